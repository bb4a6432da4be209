import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadFile, sha256Of } from "../../core/models/download";
import { fetchPreset } from "../../core/models/fetch";
import { verifyPack } from "../../core/models/verify";
import type { Preset } from "../../core/pack/presets";
import { openPack } from "../../core/pack/open";
import { cli } from "../support/cli";
import { rejection } from "../support/errors";
import { REPO } from "../support/reference";

const PACK = join(REPO, "models", "sam3-tiny-336");
const FILES = ["onnx/vision_encoder.onnx", "onnx/text_encoder.onnx", "onnx/detector_decoder.onnx", "onnx/detector_decoder_boxes.onnx", "onnx/tracker_vision_encoder.onnx", "onnx/tracker_decoder.onnx", "onnx/tracker_decoder_mask.onnx", "tokenizer.json"];
const TOKEN = "hf_secret";

/** Serves the bundled pack like a model host: Range requests, a gated folder, and a transfer that breaks once. */
class ModelHost {
  server!: Server;
  base = "";
  requests: { path: string; range?: string; auth?: string }[] = [];
  private breakOnce = new Set<string>();

  async start() {
    this.server = createServer((req, res) => {
      const url = new URL(req.url!, "http://x");
      this.requests.push({ path: url.pathname, range: req.headers.range, auth: req.headers.authorization });
      const [, area, ...rest] = url.pathname.split("/");
      const file = join(PACK, decodeURIComponent(rest.join("/")));
      if (area === "gated" && req.headers.authorization !== `Bearer ${TOKEN}`) return res.writeHead(401).end("token needed");
      if (!existsSync(file) || !["open", "gated", "flaky"].includes(area)) return res.writeHead(404).end();
      const body = readFileSync(file);
      const range = /bytes=(\d+)-/.exec(req.headers.range ?? "");
      const start = range ? Number(range[1]) : 0;
      if (start >= body.length) return res.writeHead(416).end();
      res.writeHead(range ? 206 : 200, { "content-length": body.length - start, ...(range ? { "content-range": `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
      if (area === "flaky" && this.breakOnce.has(url.pathname) && !range) {
        this.breakOnce.delete(url.pathname);
        res.write(body.subarray(0, Math.floor(body.length / 2)));
        return setTimeout(() => res.destroy(), 20);
      }
      res.end(body.subarray(start));
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  breakNext(path: string) {
    this.breakOnce.add(path);
  }
}

const host = new ModelHost();
const scratch = mkdtempSync(join(tmpdir(), "sam3-fetch-"));
const bundled = JSON.parse(readFileSync(join(PACK, "manifest.json"), "utf8"));
// the mirror serves the image graphs: its manifest names those roles only
const manifest = {
  ...bundled,
  roles: Object.fromEntries(Object.entries(bundled.roles).filter(([, r]) => FILES.includes((r as { file: string }).file))),
};
let hashes: Record<string, string>;

/** A preset laid out like the project's own published packs, served from the local host. */
const preset = (area: string, sha = true, base = `${host.base}/${area}/`): Preset => ({
  name: "tiny-mirror",
  description: "test",
  licence: "test",
  verified: true,
  capabilities: openPack(PACK).capabilities,
  variants: [{ dtype: "fp32", files: FILES.map((f) => ({ path: f, url: base + f, ...(sha ? { sha256: hashes[f] } : {}) })), manifest: { ...manifest, name: "tiny-mirror" } }],
});

beforeAll(async () => {
  await host.start();
  hashes = Object.fromEntries(await Promise.all(FILES.map(async (f) => [f, await sha256Of(join(PACK, f))])));
});
afterAll(() => {
  host.server.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe("fetching model packs", () => {
  it("downloads every file with progress, checks the checksums, writes the manifest, and the pack runs", async () => {
    const dir = join(scratch, "full");
    const progress: number[] = [];
    await fetchPreset(preset("open"), { dir, onProgress: (_f, bytes) => progress.push(bytes) });
    for (const f of FILES) expect(await sha256Of(join(dir, f))).toBe(hashes[f]);
    expect(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")).name).toBe("tiny-mirror");
    expect(progress.length).toBeGreaterThan(FILES.length);
    const report = await verifyPack(dir);
    expect(report.checks.map((c) => c.name)).toEqual(["open", "text prompt", "exemplar box", "click", "box", "clicks + previous mask", "video, 3 frames"]);
    // a second fetch finds every file complete and downloads nothing
    const before = host.requests.length;
    await fetchPreset(preset("open"), { dir });
    expect(host.requests.length).toBe(before);
  });

  it("resumes an interrupted transfer with a Range request", async () => {
    const dest = join(scratch, "text_encoder.onnx");
    const url = `${host.base}/flaky/onnx/text_encoder.onnx`;
    host.breakNext("/flaky/onnx/text_encoder.onnx");
    const broken = await rejection(downloadFile(url, dest, { sha256: hashes["onnx/text_encoder.onnx"] }));
    expect(broken.code).toBe("DOWNLOAD_FAILED");
    expect(broken.message).toMatch(/again to resume/);
    expect(existsSync(`${dest}.part`)).toBe(true);
    expect(existsSync(dest)).toBe(false);
    await downloadFile(url, dest, { sha256: hashes["onnx/text_encoder.onnx"] });
    expect(host.requests.at(-1)!.range).toMatch(/^bytes=\d+-$/);
    expect(await sha256Of(dest)).toBe(hashes["onnx/text_encoder.onnx"]);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it("rejects a file whose sha256 does not match and removes the partial copy", async () => {
    const dest = join(scratch, "tampered.onnx");
    const e = await rejection(downloadFile(`${host.base}/open/onnx/tracker_decoder.onnx`, dest, { sha256: "0".repeat(64) }));
    expect(e.message).toMatch(/sha256 [0-9a-f]{64}, expected 0{64}/);
    expect(existsSync(dest) || existsSync(`${dest}.part`)).toBe(false);
  });

  it("says a gated file needs a token, and sends HF_TOKEN when set", async () => {
    const e = await rejection(fetchPreset(preset("gated"), { dir: join(scratch, "gated"), token: "" }));
    expect(e.message).toMatch(/refused the download \(401\).*HF_TOKEN/);
    const previous = process.env.HF_TOKEN;
    process.env.HF_TOKEN = TOKEN;
    try {
      await fetchPreset(preset("gated", false), { dir: join(scratch, "gated") });
    } finally {
      process.env.HF_TOKEN = previous;
    }
    expect(host.requests.at(-1)!.auth).toBe(`Bearer ${TOKEN}`);
    expect(existsSync(join(scratch, "gated", "tokenizer.json"))).toBe(true);
  });

  it("says clearly when the host cannot be reached, and honours a mirror", async () => {
    const offline = await rejection(fetchPreset(preset("open", true, "http://127.0.0.1:9/"), { dir: join(scratch, "offline") }));
    expect(offline.message).toMatch(/cannot reach 127\.0\.0\.1:9.*offline\?/);
    const mirrored = await fetchPreset(preset("open", true, "http://127.0.0.1:9/"), { dir: join(scratch, "mirrored"), baseUrl: `${host.base}/open` });
    expect(existsSync(join(mirrored, "onnx", "vision_encoder.onnx"))).toBe(true);
  });

  it("the CLI fetches a public layout from a mirror, and verify names the mismatching tensor", async () => {
    // the usls layout's file names, served with this project's graphs: the download works, the tensor names do not
    const dir = join(scratch, "usls");
    const names: Record<string, string> = { "vision-encoder.onnx": "onnx/vision_encoder.onnx", "text-encoder.onnx": "onnx/text_encoder.onnx", "geo-encoder-mask-decoder.onnx": "onnx/detector_decoder_boxes.onnx", "tokenizer.json": "tokenizer.json" };
    const alias = createServer((req, res) => {
      const file = names[req.url!.slice(1)];
      if (!file) return res.writeHead(404).end();
      res.end(readFileSync(join(PACK, file)));
    });
    await new Promise<void>((r) => alias.listen(0, "127.0.0.1", () => r()));
    try {
      const base = `http://127.0.0.1:${(alias.address() as AddressInfo).port}/`;
      const fetched = await cli("models", "fetch", "usls-sam3-image", "--dir", dir, "--base-url", base);
      expect(fetched.code, fetched.stderr).toBe(0);
      expect(fetched.stdout).toContain(`usls-sam3-image installed in ${dir}`);
      const verified = await cli("models", "verify", dir);
      expect(verified.code).toBe(1);
      expect(verified.stderr).toMatch(/role visionEncoder \(vision-encoder\.onnx\): input tensor "images" \(pixels\) is not in the graph/);
    } finally {
      alias.close();
    }
    const listed = await cli("models", "list");
    expect(listed.stdout).toMatch(/onnx-community-sam3-tracker[\s\S]*licence: SAM License/);
    const community = listed.stdout.split("\n").findIndex((l) => l.startsWith("onnx-community-sam3-tracker"));
    expect(listed.stdout.split("\n").slice(community, community + 4)).toEqual([
      "onnx-community-sam3-tracker  (layout read from the exporter's code, not yet checked against its real files)",
      expect.stringContaining("onnx-community export used by transformers.js"),
      "  can do: clicks, box prompts, video tracking (box prompts)",
      "  precisions (--dtype): fp32 1.76 GiB, fp16 903 MiB, q8 514 MiB, int8 514 MiB, uint8 514 MiB, q4 361 MiB, q4f16 288 MiB, bnb4 334 MiB",
    ]);
    expect(listed.stdout).toMatch(/^sam3-tiny-336\n.*\n  can do: text prompts, exemplar boxes, clicks, box prompts, mask refinement, video tracking \(memory\), text prompts on video\n/m);
  });
});
