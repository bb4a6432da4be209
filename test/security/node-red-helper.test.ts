/**
 * The compiled nodes on node-red-node-test-helper (real engine). sam3-export-masks against names and folders from
 * messages: msg.stem becomes a plain file name, msg.directory stays inside the node's folder, links cannot lead the
 * files out, and write failures (a full disk, a file where the folder should be) are WRITE_FAILED errors, not
 * crashes. sam3-model: a Threads setting past the limit fails the first message instead of loading.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelConfig, sink, TestFlow, type Msg } from "../support/node-red";
import { SCENE } from "../support/reference";

const root = realpathSync(mkdtempSync(join(tmpdir(), "sam3-sec-export-")));
const OUT = join(root, "a", "b", "out");
const OUTSIDE = join(root, "outside");
const FULL = join(root, "full");
const exportNode = (id: string, directory: string, out: string) => ({
  id,
  type: "sam3-export-masks",
  name: "",
  model: "model",
  directory,
  stem: "",
  json: true,
  png: true,
  polygons: false,
  overlay: false,
  tolerance: "",
  wires: [[out]],
});

/** Every file and link below a folder, relative to it. */
const below = (dir: string) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();

let flow: TestFlow;
let result: Msg;
let fullDisk = "";

beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  mkdirSync(OUTSIDE);
  mkdirSync(FULL);
  writeFileSync(join(root, "a-file"), "a file, not a folder\n");
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", FULL], { stdio: "pipe" });
    // nearly full: the export's mask PNGs cannot fit
    writeFileSync(join(FULL, "filler"), Buffer.alloc(1020 * 1024, 1));
  } catch (e) {
    fullDisk = `mounting a 1 MiB tmpfs failed (${(e as Error).message.split("\n")[0]}): the full-disk test is skipped`;
    console.warn(fullDisk);
  }
  flow = await TestFlow.load([
    modelConfig(),
    modelConfig({ id: "modelHuge", threads: "100000" }),
    { id: "segHuge", type: "sam3-segment-image", name: "", model: "modelHuge", property: "payload", text: "thing", points: "", boxes: "", threshold: "", fineness: "", overlay: false, masks: false, wires: [["segmented"]] },
    { id: "seg", type: "sam3-segment-image", name: "", model: "model", property: "payload", text: "", points: "", boxes: "", threshold: "", fineness: "", overlay: false, masks: false, wires: [["segmented"]] },
    exportNode("export", OUT, "out"),
    exportNode("exportFull", FULL, "outFull"),
    exportNode("exportUnderFile", join(root, "a-file", "sub"), "outUnderFile"),
    ...["segmented", "out", "outFull", "outUnderFile"].map(sink),
  ]);
  result = await flow.request("seg", { payload: readFileSync(SCENE), text: "thing", threshold: 0 }, "segmented");
  delete (result as Partial<Msg>)._msgid;
});

afterAll(async () => {
  await flow?.unload();
  if (!fullDisk) execFileSync("umount", [FULL]);
  rmSync(root, { recursive: true, force: true });
});

/** What lies outside the output folder: it must never change. */
const outsideOut = () => below(root).filter((f) => !f.startsWith("a/b/out/"));

describe("msg.stem becomes a plain file name inside the node's folder", () => {
  const STEMS: [string, unknown, string][] = [
    ["../../x", "../../x", "_._x"],
    ["an absolute path", "/abs/y", "_abs_y"],
    ["..", "..", "sam3"],
    ["a NUL byte", "a\u0000b", "a_b"],
    ["dots and slashes", "....//..", "sam3"],
    ["a backslash escape", "..\\..\\z", "_._z"],
    ["a hidden name", ".profile", "profile"],
    ["1000 characters", "n".repeat(1000), "n".repeat(100)],
    ["empty", "", "sam3"],
    ["a number", 42, "42"],
  ];

  it.each(STEMS)("%s", async (_name, stem, expected) => {
    const before = outsideOut();
    const msg = await flow.request("export", { ...result, stem }, "out");
    const files = msg.payload as string[];
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) {
      expect(realpathSync(f).startsWith(OUT + "/")).toBe(true);
      expect(relative(OUT, f)).toMatch(/^[A-Za-z0-9._-]+$/);
      expect(relative(OUT, f).startsWith(`${expected}.`)).toBe(true);
    }
    expect(outsideOut()).toEqual(before);
  });

  it("a stem that is not text is a BAD_OPTION error", async () => {
    const error = await flow.failure("export", { ...result, stem: { toString: "x" } }, ["out"]);
    expect(error.code).toBe("BAD_OPTION");
  });
});

describe("msg.directory and links cannot lead the files out", () => {
  it.each(["../x", "/tmp", "a/../../x", "..", "./a", "a//b", "a\\..\\b", "a\u0000b"])("msg.directory %j is refused, nothing written", async (directory) => {
    const before = below(root);
    const error = await flow.failure("export", { ...result, directory }, ["out"]);
    expect(error.code).toBe("PATH_NOT_ALLOWED");
    expect(below(root)).toEqual(before);
  });

  it("a folder inside that links outside is refused", async () => {
    symlinkSync(OUTSIDE, join(OUT, "linked"));
    const error = await flow.failure("export", { ...result, directory: "linked" }, ["out"]);
    expect(error.code).toBe("PATH_NOT_ALLOWED");
    expect(readdirSync(OUTSIDE)).toEqual([]);
  });

  it("an earlier file of the stem that is a link is refused, its target untouched", async () => {
    const target = join(OUTSIDE, "target.json");
    writeFileSync(target, "keep me\n");
    symlinkSync(target, join(OUT, "planted.json"));
    const error = await flow.failure("export", { ...result, stem: "planted" }, ["out"]);
    expect(error.code).toBe("PATH_NOT_ALLOWED");
    expect(error.message).not.toContain(root);
    expect(readFileSync(target, "utf8")).toBe("keep me\n");
  });

  it("a folder inside the node's folder works", async () => {
    const msg = await flow.request("export", { ...result, directory: "day-1/cam_2", stem: "inside" }, "out");
    for (const f of msg.payload as string[]) expect(f.startsWith(join(OUT, "day-1", "cam_2", "inside."))).toBe(true);
  });
});

describe("write failures are WRITE_FAILED errors, the node keeps working", () => {
  it("the node's folder under a regular file", async () => {
    const error = await flow.failure("exportUnderFile", result, ["outUnderFile"]);
    expect(error.code).toBe("WRITE_FAILED");
    expect(error.message).not.toContain(root);
    expect(flow.lastStatus("exportUnderFile")).toEqual({ fill: "red", shape: "ring", text: "write failed" });
  });

  it("a full disk (ENOSPC on a nearly full 1 MiB tmpfs)", async (context) => {
    if (fullDisk) context.skip();
    const error = await flow.failure("exportFull", result, ["outFull"]);
    expect(error.code).toBe("WRITE_FAILED");
    expect(error.message).toMatch(/disk is full/);
    expect(error.message).not.toContain(FULL);
    expect(flow.lastStatus("exportFull")).toEqual({ fill: "red", shape: "ring", text: "write failed" });
  });

  it("the same node writes again once there is room", async (context) => {
    if (fullDisk) context.skip();
    for (const f of readdirSync(FULL)) rmSync(join(FULL, f), { recursive: true });
    const msg = await flow.request("exportFull", { ...result, stem: "room" }, "outFull");
    expect((msg.payload as string[]).length).toBeGreaterThan(1);
    flow.expectNoErrors();
  });
});

describe("sam3-model", () => {
  it("Threads 100000 fails the first message with BAD_OPTION at once, without loading a model", async () => {
    const start = performance.now();
    const error = await flow.failure("segHuge", { payload: readFileSync(SCENE) }, ["segmented"]);
    expect(error.code).toBe("BAD_OPTION");
    expect(error.message).toMatch(/Threads must be a whole number from 0 to 256/);
    expect(performance.now() - start).toBeLessThan(5_000);
  });
});
