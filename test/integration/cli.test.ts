import { execFile } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ObjectJson, SegmentationJson } from "../../core/export/json";
import { cocoRleToMask } from "../../core/masks/rle";
import { maskArea } from "../../core/masks/mask";
import { cli, stderrLines, type Run } from "../support/cli";

/**
 * The CLI as users run it: `node dist/cli/main.js ...` in a subprocess. The bundled packs have random weights, so this
 * checks structure and behaviour (paths, shapes, consistency, errors), never whether a mask is semantically right.
 */

const REPO = resolve(__dirname, "..", "..");
const SCENE = "examples/scene.png"; // relative: the CLI runs with cwd = REPO
const QUERIES = 16; // detector queries of sam3-tiny-336
/** Where onnxruntime-node's separately downloaded CUDA provider would be. */
const CUDA_PROVIDER = join(REPO, "node_modules", "onnxruntime-node", "bin", "napi-v6", process.platform, process.arch, "libonnxruntime_providers_cuda.so");

/** Parses stdout that must be exactly one JSON document on one line. */
function onlyJson(run: Run): SegmentationJson {
  expect(run.code, run.stderr).toBe(0);
  const lines = run.stdout.split("\n");
  expect(lines).toHaveLength(2); // one line, then the final newline
  expect(lines[1]).toBe("");
  return JSON.parse(lines[0]);
}

/** Every object's shape, and its RLE decodes to exactly `area` pixels of a 640x480 mask. */
/** The objects' shape; detector objects also carry the concept that found them. */
function checkObjects(objects: ObjectJson[], label?: string) {
  for (const o of objects) {
    expect(Object.keys(o).sort()).toEqual(["area", "box", "colour", "id", ...(label ? ["label"] : []), "rle", "score"]);
    expect(o.label).toBe(label);
    expect(o.colour).toMatch(/^#[0-9a-f]{6}$/);
    expect(o.score).toBeGreaterThanOrEqual(0);
    expect(o.score).toBeLessThanOrEqual(1);
    expect(o.box).toHaveLength(4);
    const [x1, y1, x2, y2] = o.box;
    for (const v of o.box) expect(Number.isFinite(v)).toBe(true);
    expect(x1).toBeGreaterThanOrEqual(0);
    expect(y1).toBeGreaterThanOrEqual(0);
    expect(x2).toBeLessThanOrEqual(640);
    expect(y2).toBeLessThanOrEqual(480);
    expect(x1).toBeLessThanOrEqual(x2);
    expect(y1).toBeLessThanOrEqual(y2);
    expect(Number.isInteger(o.area)).toBe(true);
    expect(Object.keys(o.rle).sort()).toEqual(["counts", "size"]);
    expect(o.rle.size).toEqual([480, 640]);
    expect(typeof o.rle.counts).toBe("string");
    const mask = cocoRleToMask(o.rle);
    expect([mask.width, mask.height]).toEqual([640, 480]);
    expect(maskArea(mask)).toBe(o.area);
  }
}

let tmp: string;
/** `--text "red circle" --threshold 0 --json`: shared by several tests. */
let allDetections: Run;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "sam3-cli-"));
  allDetections = await cli("segment", SCENE, "--text", "red circle", "--threshold", "0", "--json");
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("sam3 segment: detector (text)", () => {
  it("--threshold 0 --json prints one JSON object with every query, sorted, with consistent RLE masks", () => {
    const json = onlyJson(allDetections);
    expect(allDetections.stderr).toBe("");
    expect(Object.keys(json).sort()).toEqual(["image", "model", "objects"]); // no candidates on the detector path
    expect(json.image).toEqual({ width: 640, height: 480 });
    expect(json.model).toBe("sam3-tiny-336");
    expect(json.objects).toHaveLength(QUERIES);
    expect(json.objects.map((o) => o.id)).toEqual(Array.from({ length: QUERIES }, (_, i) => i + 1));
    const scores = json.objects.map((o) => o.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    checkObjects(json.objects, "red circle");
    // random weights: masks are not empty and not all identical
    expect(json.objects.some((o) => o.area > 0)).toBe(true);
    expect(new Set(json.objects.map((o) => o.rle.counts)).size).toBeGreaterThan(1);
  });

  it("default threshold 0.5 keeps nothing from the random-weight pack, and exits 0", async () => {
    // the premise: every detection scores below the default threshold
    expect(Math.max(...onlyJson(allDetections).objects.map((o) => o.score))).toBeLessThan(0.5);
    const json = onlyJson(await cli("segment", SCENE, "--text", "red circle", "--json"));
    expect(json).toEqual({ image: { width: 640, height: 480 }, model: "sam3-tiny-336", objects: [] });
  });

  it("text + box goes to the detector, and the exemplar box changes the result", async () => {
    const json = onlyJson(await cli("segment", SCENE, "--text", "red circle", "--box", "80,90,240,250", "--threshold", "0", "--json"));
    expect(json.candidates).toBeUndefined();
    expect(json.objects).toHaveLength(QUERIES);
    checkObjects(json.objects, "red circle");
    expect(json.objects).not.toEqual(onlyJson(allDetections).objects);
  });
});

describe("sam3 segment: tracker (points / box)", () => {
  function checkTracker(json: SegmentationJson) {
    expect(Object.keys(json).sort()).toEqual(["candidates", "image", "model", "objects"]);
    expect(json.image).toEqual({ width: 640, height: 480 });
    expect(json.model).toBe("sam3-tiny-336");
    expect(json.objects).toHaveLength(1);
    expect(json.objects[0].id).toBe(1);
    checkObjects(json.objects);
    const candidates = json.candidates!;
    expect(candidates).toHaveLength(3);
    for (const c of candidates) {
      expect(Object.keys(c).sort()).toEqual(["area", "score"]);
      expect(Number.isInteger(c.area)).toBe(true);
      expect(c.area).toBeGreaterThanOrEqual(0);
      expect(c.area).toBeLessThanOrEqual(640 * 480);
    }
    const best = candidates.reduce((b, c) => (c.score > b.score ? c : b));
    expect(json.objects[0].score).toBe(best.score);
    expect(json.objects[0].area).toBe(best.area);
  }

  it("one click selects one object, the best of three candidates", async () => {
    const run = await cli("segment", SCENE, "--point", "160,170", "--json");
    checkTracker(onlyJson(run));
    expect(run.stderr).toBe("");
  });

  it("positive and negative points give the single-mask output, or the three candidates with --multimask", async () => {
    const single = onlyJson(await cli("segment", SCENE, "--point", "160,170", "--point", "460,160:neg", "--json"));
    expect(single.candidates).toBeUndefined();
    expect(single.objects).toHaveLength(1);
    checkObjects(single.objects);
    checkTracker(onlyJson(await cli("segment", SCENE, "--point", "160,170", "--point", "460,160:neg", "--multimask", "--json")));
  });

  it("a box alone goes to the tracker", async () => {
    checkTracker(onlyJson(await cli("segment", SCENE, "--box", "80,90,240,250", "--multimask", "--json")));
  });
});

describe("sam3 segment --out", () => {
  it("writes the overlay, one mask PNG per object and the JSON, all consistent with --json", async () => {
    const out = join(tmp, "out");
    const run = await cli("segment", SCENE, "--text", "red circle", "--threshold", "0", "--json", "--out", out);
    const json = onlyJson(run);
    expect(json.objects).toHaveLength(QUERIES);
    expect(json).toEqual(onlyJson(allDetections)); // same input, same result with or without --out
    expect(run.stderr).toMatch(new RegExp(`wrote ${QUERIES + 2} files`));

    const expected = ["scene.json", "scene.overlay.png", ...json.objects.map((o) => `scene.mask-${o.id}.png`)];
    expect((await readdir(out)).sort()).toEqual(expected.sort());

    expect(JSON.parse(await readFile(join(out, "scene.json"), "utf8"))).toEqual(json);

    const overlay = await readFile(join(out, "scene.overlay.png"));
    const meta = await sharp(overlay).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["png", 640, 480]);
    const painted = await sharp(overlay).removeAlpha().raw().toBuffer();
    const original = await sharp(join(REPO, SCENE)).removeAlpha().raw().toBuffer();
    expect(painted.length).toBe(original.length);
    // the masks are tinted in (not just labels drawn): nearly every pixel under some mask changed colour
    const masks = json.objects.map((o) => cocoRleToMask(o.rle).data);
    let covered = 0;
    let changed = 0;
    for (let p = 0; p < 640 * 480; p++) {
      if (!masks.some((m) => m[p])) continue;
      covered++;
      const i = p * 3;
      if (painted[i] !== original[i] || painted[i + 1] !== original[i + 1] || painted[i + 2] !== original[i + 2]) changed++;
    }
    expect(covered).toBeGreaterThan(0);
    expect(changed / covered).toBeGreaterThan(0.9);

    for (const o of json.objects) {
      const png = await readFile(join(out, `scene.mask-${o.id}.png`));
      const meta = await sharp(png).metadata();
      expect([meta.format, meta.width, meta.height, meta.channels, meta.depth]).toEqual(["png", 640, 480, 1, "uchar"]); // 8-bit greyscale file
      // sharp widens greyscale to sRGB on output: read whatever channels come back and require them equal
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      const c = info.channels;
      const rle = cocoRleToMask(o.rle);
      let white = 0;
      let mismatched = 0;
      let invalid = 0;
      for (let p = 0; p < 640 * 480; p++) {
        const v = data[p * c];
        for (let k = 1; k < c; k++) if (data[p * c + k] !== v) invalid++;
        if (v !== 0 && v !== 255) invalid++;
        if (v === 255) white++;
        if ((v === 255 ? 1 : 0) !== rle.data[p]) mismatched++;
      }
      expect(invalid, `mask ${o.id}: only 0 / 255 pixels`).toBe(0);
      expect(white, `mask ${o.id}: white pixels = area`).toBe(o.area);
      expect(mismatched, `mask ${o.id}: same pixels as its RLE`).toBe(0);
    }
  });
});

describe("sam3 demo", () => {
  it("--out DIR writes the overlays and masks it lists", async () => {
    const out = join(tmp, "demo");
    const run = await cli("demo", "--out", out);
    expect(run.code, run.stderr).toBe(0);
    const listed = run.stdout
      .split("\n")
      .filter((l) => l.startsWith("  "))
      .map((l) => l.trim());
    const overlays = listed.filter((f) => f.endsWith(".overlay.png"));
    expect(overlays.length).toBeGreaterThanOrEqual(2); // by text and by clicks
    expect(listed.every((f) => f.startsWith(out))).toBe(true);
    expect((await readdir(out)).sort()).toEqual(listed.map((f) => f.slice(out.length + 1)).sort());
    for (const f of overlays) {
      const meta = await sharp(f).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(["png", 640, 480]);
    }
  });
});

describe("sam3 errors: one line on stderr, no stack, nothing on stdout", () => {
  const cases: [string, () => string[], number, RegExp][] = [
    ["missing image file", () => ["segment", join(tmp, "missing.png"), "--text", "x", "--json"], 1, /not found/],
    ["corrupt image", () => ["segment", join(tmp, "corrupt.png"), "--text", "x", "--json"], 1, /cannot decode/],
    ["point outside the image", () => ["segment", SCENE, "--point", "900,10", "--json"], 1, /outside/],
    ["inverted box", () => ["segment", SCENE, "--box", "200,10,100,50", "--text", "x", "--json"], 1, /inverted/],
    ["empty text", () => ["segment", SCENE, "--text", "  ", "--json"], 1, /empty/],
    ["unknown model preset", () => ["segment", SCENE, "--text", "x", "--model", "nope", "--json"], 1, /"nope".*preset/],
    ["unknown flag", () => ["segment", SCENE, "--text", "x", "--bogus", "--json"], 2, /unknown option --bogus \(see sam3 segment --help\)/],
    ["threshold out of range", () => ["segment", SCENE, "--text", "x", "--threshold", "2", "--json"], 2, /--threshold/],
    ["no image argument", () => ["segment", "--text", "x", "--json"], 2, /image/],
    ["unknown command", () => ["frobnicate", SCENE], 2, /unknown command "frobnicate"/],
  ];

  beforeAll(async () => {
    await writeFile(join(tmp, "corrupt.png"), Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 7919 + 13) % 251)));
  });

  it.each(cases)("%s", async (_name, args, exitCode, message) => {
    const run = await cli(...args());
    expect(run.code, run.stderr).toBe(exitCode);
    expect(run.stdout).toBe("");
    expect(run.stderr.endsWith("\n")).toBe(true);
    expect(stderrLines(run)).toHaveLength(1);
    expect(run.stderr).toMatch(/^sam3: error: \S/);
    expect(run.stderr).not.toContain("    at ");
    expect(run.stderr).toMatch(message);
  });
});

describe("sam3 warnings", () => {
  it("--device coreml falls back to cpu with a warning and still prints the result", async () => {
    const run = await cli("segment", SCENE, "--point", "160,170", "--device", "coreml", "--json");
    const json = onlyJson(run);
    expect(json.image).toEqual({ width: 640, height: 480 });
    expect(json.objects).toHaveLength(1);
    const warnings = stderrLines(run).filter((l) => l.startsWith("sam3: warning: "));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/coreml/);
    expect(warnings[0]).toMatch(/cpu/);
    expect(stderrLines(run)).toEqual(warnings);
  });

  it("--device cuda without the provider library: our one warning, none of onnxruntime's own lines", async (context) => {
    if (existsSync(CUDA_PROVIDER)) context.skip("the CUDA provider library is installed here");
    const run = await cli("segment", SCENE, "--point", "160,170", "--device", "cuda", "--json");
    expect(onlyJson(run).objects).toHaveLength(1);
    expect(stderrLines(run)).toEqual([
      "sam3: warning: device cuda unavailable, running on cpu: the cuda provider library of onnxruntime-node is not installed (needs CUDA 12 + cuDNN 9 and the provider libraries (npx sam3 gpu install))",
    ]);
  });

  it("a 300-character text prompt runs, with a truncation warning", async () => {
    const text = "a small red circle beside a blue square ".repeat(8).slice(0, 300);
    expect(text).toHaveLength(300);
    const run = await cli("segment", SCENE, "--text", text, "--json");
    expect(onlyJson(run).model).toBe("sam3-tiny-336");
    const lines = stderrLines(run);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^sam3: warning: .*truncat/);
  });
});

describe("sam3 help", () => {
  it("--help prints the usage of every command and exits 0", async () => {
    const run = await cli("--help");
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain("sam3 segment <image>");
    expect(run.stdout).toContain("sam3 demo");
    expect(run.stdout).toContain("--threshold");
  });

  it("segment --help prints the segment usage and exits 0 without running", async () => {
    const run = await cli("segment", "--help");
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("");
    expect(run.stdout.startsWith("sam3 segment <image>")).toBe(true);
    for (const flag of ["--text", "--box", "--point", "--model", "--device", "--max-pixels", "--threshold", "--json", "--out"]) expect(run.stdout).toContain(flag);
    expect(run.stdout).not.toContain("sam3 demo");
  });

  it("track --help lists its detection threshold and pixel limit", async () => {
    const run = await cli("track", "--help");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--threshold F +text: detections scoring at least F/);
    expect(run.stdout).toMatch(/--max-pixels N +refuse frames above N pixels/);
  });
});
