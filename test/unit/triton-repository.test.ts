import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { rewriteOnnx } from "../../bench/onnx-rewrite";
import { Sam3Error } from "../../core/errors";
import { openPack, type ModelPack } from "../../core/pack/open";
import { readOnnxSignature, type OnnxSignature } from "../../core/pack/onnx-signature";
import { ROLE_NAMES } from "../../core/pack/roles";
import { tritonModelName } from "../../core/triton/model-names";
import { tritonModelConfig, writeTritonRepository, type TritonRepositoryOptions } from "../../core/triton/model-repository";
import { rejection } from "../support/errors";
import { REPO } from "../support/reference";

const scratch = mkdtempSync(join(tmpdir(), "sam3-triton-repo-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let outs = 0;
const freshOut = () => join(scratch, `repo-${outs++}`);

/** The config of one graph of the pack, as written to a fresh repository. */
async function configs(pack: ModelPack, options: TritonRepositoryOptions = {}): Promise<Record<string, string>> {
  const out = freshOut();
  const models = await writeTritonRepository(pack, out, options);
  return Object.fromEntries(models.map((m) => [m.graph.replace(/^onnx\/|\.onnx$/g, ""), readFileSync(join(out, m.name, "config.pbtxt"), "utf8")]));
}

/** The text of one tensor's entry in a config. */
const entry = (config: string, tensor: string) => config.match(new RegExp(`\\{\\n    name: "${tensor}"\\n[^}]*\\}`))?.[0] ?? "";

/** Braces and brackets of a config close in order. */
function balanced(text: string): boolean {
  const open: string[] = [];
  for (const c of text.replace(/"[^"]*"/g, "")) {
    if (c === "{" || c === "[") open.push(c);
    else if (c === "}" && open.pop() !== "{") return false;
    else if (c === "]" && open.pop() !== "[") return false;
  }
  return open.length === 0;
}

describe.each([
  ["sam3-tiny-336", 336, 96],
  ["sam3-tiny-1008", 1008, 288],
])("the Triton repository of %s", (name, size, fine) => {
  const pack = openPack(join(REPO, "models", name));

  it("has one model per graph file, each with its config and its graph byte for byte", async () => {
    const out = freshOut();
    const models = await writeTritonRepository(pack, out);
    const graphs = [...new Set(ROLE_NAMES.map((role) => pack.manifest.roles[role]?.file).filter((f) => f !== undefined))];
    expect(models.map((m) => m.graph)).toEqual(graphs);
    expect(readdirSync(out).sort()).toEqual(graphs.map((g) => tritonModelName(name, g)).sort());
    for (const m of models) {
      expect(readdirSync(join(out, m.name)).sort()).toEqual(["1", "config.pbtxt"]);
      expect(readFileSync(join(out, m.name, "1", "model.onnx")).equals(readFileSync(join(pack.dir, m.graph)))).toBe(true);
      expect(readFileSync(join(out, m.name, "config.pbtxt"), "utf8")).toMatch(new RegExp(`^name: "${m.name}"\\nbackend: "onnxruntime"\\n`));
    }
    // nothing but the repository is left beside it
    expect(readdirSync(scratch).filter((f) => f.includes("partial"))).toEqual([]);
  });

  it("batches only the text encoder, whose every tensor leads with the prompt dimension", async () => {
    const all = await configs(pack, { maxBatch: 16, queueDelayMicroseconds: 250 });
    expect(Object.keys(all).filter((g) => all[g].includes("dynamic_batching"))).toEqual(["text_encoder"]);
    const text = all.text_encoder;
    expect(text).toContain("max_batch_size: 16\ndynamic_batching {\n  max_queue_delay_microseconds: 250\n}");
    expect(entry(text, "input_ids")).toContain("data_type: TYPE_INT64\n    dims: [ 32 ]");
    expect(entry(text, "text_features")).toContain("data_type: TYPE_FP32\n    dims: [ -1, 64 ]");
    for (const [graph, config] of Object.entries(all)) if (graph !== "text_encoder") expect(config, graph).toContain("max_batch_size: 0\n");
  });

  it("declares every tensor's type and full shape, symbolic dimensions as -1", async () => {
    const all = await configs(pack);
    expect(entry(all.memory_encoder, "mask_from_prompt")).toContain("data_type: TYPE_BOOL\n    dims: [ 1 ]");
    expect(entry(all.memory_encoder, "high_res_masks")).toContain(`data_type: TYPE_FP32\n    dims: [ -1, 1, ${size}, ${size} ]`);
    expect(entry(all.memory_attention, "memory_offsets")).toContain("data_type: TYPE_INT64\n    dims: [ -1 ]");
    expect(entry(all.backbone, "pixel_values")).toContain(`dims: [ 1, 3, ${size}, ${size} ]`);
    expect(entry(all.tracker_decoder, "input_points")).toContain("dims: [ 1, 1, -1, 2 ]");
    expect(entry(all.tracker_decoder_mask, "input_masks")).toContain(`dims: [ 1, 1, ${fine}, ${fine} ]`);
    // outputs the pipeline never reads are listed too: Triton checks the config against the whole graph
    expect(entry(all.detector_decoder, "semantic_seg")).toContain(`dims: [ 1, 1, ${fine}, ${fine} ]`);
    for (const [graph, config] of Object.entries(all)) {
      const signature = readOnnxSignature(join(pack.dir, "onnx", `${graph}.onnx`));
      expect(config.match(/^    name: /gm)?.length, graph).toBe(signature.inputs.length + signature.outputs.length);
      expect(balanced(config), graph).toBe(true);
    }
  });

  it("runs --instances copies on GPU by default, with TensorRT only when asked", async () => {
    const plain = await configs(pack);
    expect(plain.backbone).toContain("instance_group [\n  {\n    count: 1\n    kind: KIND_GPU\n  }\n]");
    expect(Object.values(plain).some((c) => c.includes("tensorrt"))).toBe(false);
    const fast = await configs(pack, { instances: 4, tensorrt: "fp16" });
    for (const config of Object.values(fast)) {
      expect(config).toContain("count: 4\n    kind: KIND_GPU");
      expect(config).toMatch(/optimization \{\n  execution_accelerators \{\n    gpu_execution_accelerator : \[\n      \{\n        name : "tensorrt"\n/);
      expect(config).toContain('parameters { key: "precision_mode" value: "FP16" }');
      expect(config).toContain('parameters { key: "max_workspace_size_bytes" value: "1073741824" }');
      expect(balanced(config)).toBe(true);
    }
    expect((await configs(pack, { tensorrt: "fp32" })).text_encoder).toContain('value: "FP32"');
    const cpu = await configs(pack, { instances: 2, kind: "cpu", tensorrt: "off" });
    expect(cpu.memory_encoder).toContain("count: 2\n    kind: KIND_CPU");
    expect(cpu.memory_encoder).not.toContain("optimization");
  });
});

describe("a Triton config", () => {
  const signature = (tensors: Record<string, { type: string; dims?: (number | string)[] }>, inputs = Object.keys(tensors).slice(0, 1)): OnnxSignature => ({
    inputs,
    outputs: Object.keys(tensors).filter((t) => !inputs.includes(t)),
    tensors,
  });

  it("reads float16 graphs as TYPE_FP16", () => {
    const fp16 = readOnnxSignature(join(REPO, "test", "fixtures", "sam3-tiny-336-fp16", "onnx", "text_encoder.onnx"));
    const { text, batched } = tritonModelConfig("m", fp16);
    expect(batched).toBe(true);
    expect(entry(text, "text_features")).toContain("data_type: TYPE_FP16");
  });

  it("batches only on one named leading dimension shared by every tensor", () => {
    expect(tritonModelConfig("m", signature({ a: { type: "float32", dims: ["n", 3] }, b: { type: "int32", dims: ["n"] } })).batched).toBe(true);
    expect(tritonModelConfig("m", signature({ a: { type: "float32", dims: ["n", 3] }, b: { type: "float32", dims: ["k"] } })).batched).toBe(false);
    expect(tritonModelConfig("m", signature({ a: { type: "float32", dims: ["?", 3] }, b: { type: "float32", dims: ["?"] } })).batched).toBe(false);
    expect(tritonModelConfig("m", signature({ a: { type: "uint8", dims: [2, 3] }, b: { type: "float32", dims: [2] } })).batched).toBe(false);
  });

  it("declares a scalar as one element reshaped back, and escapes names for the text format", () => {
    const { text } = tritonModelConfig('a"b\\c', signature({ "x\ny": { type: "bool", dims: [] }, out: { type: "float32", dims: [1] } }));
    expect(text).toContain('name: "a\\"b\\\\c"');
    expect(text).toContain('name: "x\\012y"\n    data_type: TYPE_BOOL\n    dims: [ 1 ]\n    reshape: { shape: [ ] }');
    expect(balanced(text.replace(/\\"/g, ""))).toBe(true);
  });

  it("refuses a tensor type or shape it cannot declare, naming the tensor", () => {
    const badType = (() => {
      try {
        tritonModelConfig("m", signature({ x: { type: "float32", dims: [1] }, y: { type: "float64", dims: [1] } }), {}, "onnx/g.onnx");
      } catch (e) {
        return e as Sam3Error;
      }
    })();
    expect(badType).toBeInstanceOf(Sam3Error);
    expect(badType!.code).toBe("PACK_INVALID");
    expect(badType!.message).toMatch(/^graph onnx\/g\.onnx: tensor "y" is float64, which the Triton repository does not serve/);
    expect(() => tritonModelConfig("m", signature({ x: { type: "float32" } }))).toThrow(/tensor "x" declares no shape/);
    expect(() => tritonModelConfig("m", signature({ x: { type: "unknown", dims: [1] } }))).toThrow(/tensor "x" is unknown/);
  });
});

describe("writing a Triton repository", () => {
  const pack = openPack(join(REPO, "models", "sam3-tiny-336"));

  it.each<[TritonRepositoryOptions, RegExp]>([
    [{ instances: 0 }, /^instances must be a whole number from 1 to 16, got 0$/],
    [{ instances: 17 }, /^instances must be a whole number from 1 to 16/],
    [{ instances: 1.5 }, /^instances must be a whole number/],
    [{ maxBatch: 65 }, /^maxBatch must be a whole number from 1 to 64/],
    [{ queueDelayMicroseconds: -1 }, /^queueDelayMicroseconds must be a whole number from 0 to 1000000/],
    [{ kind: "tpu" as "gpu" }, /^kind must be gpu or cpu, got tpu$/],
    [{ tensorrt: "int8" as "fp16" }, /^tensorrt must be off, fp16 or fp32, got int8$/],
    [{ kind: "cpu", tensorrt: "fp16" }, /^tensorrt runs on GPU instances only/],
  ])("refuses %o with BAD_OPTION, writing nothing", async (options, message) => {
    const out = freshOut();
    const e = await rejection(writeTritonRepository(pack, out, options));
    expect(e.code).toBe("BAD_OPTION");
    expect(e.message).toMatch(message);
    expect(readdirSync(scratch)).not.toContain(out.split("/").pop());
  });

  it("writes into an empty folder, and refuses one with anything in it without naming its path", async () => {
    const empty = freshOut();
    mkdirSync(empty);
    await writeTritonRepository(pack, empty);
    expect(readdirSync(empty)).toContain("sam3-tiny-336-backbone");
    const e = await rejection(writeTritonRepository(pack, empty));
    expect(e.code).toBe("WRITE_FAILED");
    expect(e.message).toBe("the output folder is not empty: give a new or empty folder for the model repository");
    const file = join(scratch, "a-file");
    writeFileSync(file, "x");
    expect((await rejection(writeTritonRepository(pack, file))).code).toBe("WRITE_FAILED");
  });

  it("leaves no partial folder when it cannot write", async () => {
    const parent = freshOut();
    mkdirSync(parent);
    writeFileSync(join(parent, "file"), "x");
    const e = await rejection(writeTritonRepository(pack, join(parent, "file", "repo")));
    expect(e.code).toBe("WRITE_FAILED");
    expect(e.message).not.toContain(parent);
    expect(readdirSync(parent)).toEqual(["file"]);
  });

  describe("with external weights", () => {
    // the text encoder alone, its weights in text_encoder.onnx_data beside it
    const dir = join(scratch, "external-pack");
    mkdirSync(join(dir, "onnx"), { recursive: true });
    const role = pack.manifest.roles.textEncoder!;
    const { model, data } = rewriteOnnx(readFileSync(join(pack.dir, role.file)), {}, "text_encoder.onnx_data");
    writeFileSync(join(dir, "onnx", "text_encoder.onnx"), model);
    writeFileSync(join(dir, "onnx", "text_encoder.onnx_data"), data!);
    const external: ModelPack = { ...pack, dir, manifest: { ...pack.manifest, roles: { textEncoder: role } } };

    it("copies the graph's weight file beside model.onnx under the name the graph gives it", async () => {
      const out = freshOut();
      const [m] = await writeTritonRepository(external, out);
      expect(readdirSync(join(out, m.name, "1")).sort()).toEqual(["model.onnx", "text_encoder.onnx_data"]);
      expect(readFileSync(join(out, m.name, "1", "text_encoder.onnx_data")).equals(data!)).toBe(true);
    });

    it("removes its partial folder when a copy fails midway", async () => {
      const out = freshOut();
      unlinkSync(join(dir, "onnx", "text_encoder.onnx_data"));
      const e = await rejection(writeTritonRepository(external, out));
      expect(e.code).toBe("WRITE_FAILED");
      expect(e.message).toMatch(/^writing the Triton model repository failed: /);
      expect(readdirSync(scratch).filter((f) => f.startsWith(".") || f === out.split("/").pop())).toEqual([]);
    });
  });

  it("writes a graph that several roles share once", async () => {
    const shared: ModelPack = { ...pack, manifest: { ...pack.manifest, roles: { backbone: pack.manifest.roles.backbone, visionEncoder: { ...pack.manifest.roles.visionEncoder!, file: pack.manifest.roles.backbone!.file } } } };
    const models = await writeTritonRepository(shared, freshOut());
    expect(models.map((m) => m.name)).toEqual(["sam3-tiny-336-backbone"]);
  });

  it("refuses two graph files that would be one Triton model, writing nothing", async () => {
    const other = { ...pack.manifest.roles.backbone!, file: "../sam3-tiny-1008/onnx/backbone.onnx" };
    const clash: ModelPack = { ...pack, manifest: { ...pack.manifest, roles: { backbone: pack.manifest.roles.backbone, trackerVisionEncoder: other } } };
    const out = freshOut();
    const e = await rejection(writeTritonRepository(clash, out));
    expect(e.code).toBe("PACK_INVALID");
    expect(e.message).toMatch(/graphs \.\.\/sam3-tiny-1008\/onnx\/backbone\.onnx and onnx\/backbone\.onnx would both be the Triton model sam3-tiny-336-backbone/);
    expect(readdirSync(scratch)).not.toContain(out.split("/").pop());
  });
});
