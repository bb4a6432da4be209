import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { decodeImage } from "../core/image/decode";
import { maskArea, maskIoU, type Mask } from "../core/masks/mask";
import type { PointPrompt } from "../core/prompts";
import { stageMilliseconds, timed, type Timings } from "../core/runtime/timings";
import { Sam3 } from "../core/sam3";
import { bestCandidate } from "../core/tracker";
import { median } from "./stats";

/** The peer, pinned: its SAM 3 tracker classes load onnx-community/sam3-tracker-ONNX. */
export const PEER = { name: "@huggingface/transformers", version: "4.3.2" };

/** Where bench peers are installed: outside the repository, so no install of this package carries a second runtime. */
export const peersDir = () => process.env.SAM3_BENCH_PEERS ?? join(homedir(), ".cache", "sam3-flow", "bench-peers");

/** Loaded at run time by path: no types at build time. */
type TransformersJs = any;

/** The pinned transformers.js, installed into `dir` on first use (without onnxruntime-node's CUDA download). */
export async function importTransformersJs(dir = peersDir()): Promise<TransformersJs> {
  const root = join(dir, "node_modules", ...PEER.name.split("/"));
  const manifest = join(root, "package.json");
  if (!existsSync(manifest) || JSON.parse(readFileSync(manifest, "utf8")).version !== PEER.version) {
    mkdirSync(dir, { recursive: true });
    const args = ["install", "--prefix", dir, "--no-save", "--no-audit", "--no-fund", "--ignore-scripts", `${PEER.name}@${PEER.version}`];
    const env = { ...process.env, npm_config_onnxruntime_node_install: "skip", ONNXRUNTIME_NODE_INSTALL: "skip" };
    const r = spawnSync("npm", args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    if (r.status !== 0) {
      const why = /^npm (?:ERR!|error) (.+)$/m.exec(r.stderr ?? "")?.[1];
      throw new Error(`npm install ${PEER.name}@${PEER.version} failed (${why || r.error?.message || `exit ${r.status}`})`);
    }
  }
  return import(pathToFileURL(join(root, "dist", "transformers.node.mjs")).href);
}

/** One click from an image file to the best candidate's mask at the image's size, with its stages' milliseconds. */
interface Clicker {
  click(image: string, point: PointPrompt, run: number): Promise<{ mask: Mask; candidate: number; score: number; timings: Timings }>;
  close(): Promise<unknown>;
}

async function openThis(pack: string, threads?: number): Promise<Clicker> {
  const sam = await Sam3.open({ model: pack, intraOpThreads: threads, featureCacheImages: 0 });
  return {
    async click(image, point, run) {
      const timings: Timings = {};
      const rgb = await timed(timings, "decode", () => decodeImage(image));
      // a fresh key per run: the same pixels are preprocessed and encoded again, as the peer does
      const result = await sam.segment({ ...rgb, key: `${rgb.key}:${run}` }, { points: [point] }, { minRegionArea: 0 });
      const [best] = result.objects;
      Object.assign(timings, Object.fromEntries(stageMilliseconds(result.timings)));
      return { mask: best.mask, candidate: bestCandidate(result.candidates!.map((c) => c.score)), score: best.score, timings };
    },
    close: () => sam.close(),
  };
}

/** transformers.js as its docs show a click: processor, model (encoder + decoder), post_process_masks, best by IoU score. */
async function openPeer(tjs: TransformersJs, pack: string, threads?: number): Promise<Clicker> {
  tjs.env.allowRemoteModels = false;
  const session_options = threads ? { intraOpNumThreads: threads } : {};
  const model = await tjs.Sam3TrackerModel.from_pretrained(pack, { local_files_only: true, device: "cpu", dtype: "fp32", session_options });
  const processor = await tjs.Sam2Processor.from_pretrained(pack, { local_files_only: true });
  return {
    async click(image, point) {
      // stages named as this project's, to read the two lines column by column
      const timings: Timings = {};
      const raw = await timed(timings, "decode", () => tjs.RawImage.read(image));
      const prompt = { input_points: [[[[point.x, point.y]]]], input_labels: [[[1]]] };
      const inputs = await timed(timings, "preprocess", () => processor(raw, prompt));
      const embeddings = await timed(timings, "trackerVisionEncoder", () => model.get_image_embeddings(inputs));
      const out = await timed(timings, "trackerDecoder", () => model({ ...inputs, ...embeddings }));
      return timed(timings, "postprocess", async () => {
        const [masks] = await processor.post_process_masks(out.pred_masks, inputs.original_sizes, inputs.reshaped_input_sizes);
        const candidate = bestCandidate(out.iou_scores.data);
        const [height, width] = masks.dims.slice(-2);
        const data = (masks.data as Uint8Array).slice(candidate * width * height, (candidate + 1) * width * height);
        return { mask: { width, height, data }, candidate, score: out.iou_scores.data[candidate], timings };
      });
    },
    close: () => model.dispose(),
  };
}

const f = (x: number, digits = 1) => x.toFixed(digits);

/**
 * One click end to end (file -> decode, preprocess, encoder, decoder, upsampled thresholded best mask), this project
 * against transformers.js on one onnx-community folder, same process and image, on the CPU. Cold = open + first click
 * (each side loads its sessions differently: eagerly there, on first use here); then the two click in turn. The IoU
 * of the best masks is 1 only where the logits are far from 0: the peer resizes the image with sharp's affine (a
 * sub-pixel shift, its last row and column blended with black) and upsamples the logits in two steps (to 1008, then
 * to the image), this project in one; the same pixels through the same graphs give the same logits.
 */
export async function compareOneClick(tjs: TransformersJs, pack: string, image: string, runs: number, threads?: number) {
  const { width, height } = await decodeImage(image);
  const point = { x: Math.round(width / 4), y: Math.round(height / 3) };
  const opens: [string, () => Promise<Clicker>][] = [
    ["this project", () => openThis(pack, threads)],
    [`transformers.js ${PEER.version}`, () => openPeer(tjs, pack, threads)],
  ];
  const clickers: Clicker[] = [];
  try {
    const sides = [];
    for (const [name, open] of opens) {
      const start = performance.now();
      const clicker = await open();
      clickers.push(clicker);
      const last = await clicker.click(image, point, -1);
      sides.push({ name, clicker, last, cold: performance.now() - start, walls: [] as number[], timings: [] as Timings[] });
    }
    for (let run = 0; run < runs; run++) {
      for (const side of sides) {
        const start = performance.now();
        side.last = await side.clicker.click(image, point, run);
        side.walls.push(performance.now() - start);
        side.timings.push(side.last.timings);
      }
    }
    console.log(`\none click end to end vs ${PEER.name} ${PEER.version} (Sam3TrackerModel + Sam2Processor), cpu${threads ? `, ${threads} intra-op threads` : ""}`);
    console.log(`  ${pack}, ${image} ${width}x${height}, click (${point.x}, ${point.y}), median of ${runs} clicks after the first, ms`);
    for (const { name, cold, walls, timings, last } of sides) {
      const stages = Object.keys(timings[0]).map((k) => `${k} ${f(median(timings.map((t) => t[k])))}`).join("  ");
      console.log(`  ${name.padEnd(21)}  open + first click ${f(cold).padStart(7)}  | click ${f(median(walls)).padStart(7)} = ${stages}  | best candidate ${last.candidate} (IoU score ${f(last.score, 3)}, ${maskArea(last.mask)} px)`);
    }
    const [ours, theirs] = sides;
    const ratio = (a: number, b: number) => f(a / b, 2).padStart(7);
    const iou = maskIoU(ours.last.mask, theirs.last.mask);
    console.log(`  ${"ratio peer/this".padEnd(21)}  open + first click ${ratio(theirs.cold, ours.cold)}  | click ${ratio(median(theirs.walls), median(ours.walls))}  | best-mask IoU ${f(iou, 4)}`);
  } finally {
    await Promise.all(clickers.map((c) => c.close()));
  }
}
