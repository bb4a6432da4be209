/**
 * Node-RED face, in the REAL runtime (a Node-RED process with this package installed): the shipped example flows and
 * a test flow are deployed through the admin API, then path-like and hostile messages are POSTed to their HTTP
 * endpoints. Nothing of a server file may come back, the refusal must not depend on whether the file exists, and the
 * runtime must still answer afterwards.
 *
 * Corpus (corpus/node-red.json): an array of { name, node, msg, code }.
 *   node  which sam3 node of the test flow gets the message: segment (file paths from messages off), segmentFolder
 *         (paths inside the allowed folder), load (paths inside the allowed folder), text, point, propagate, remove,
 *         export (into the output folder);
 *   msg   the message properties. Tokens replaced here: "$SCENE" (the scene PNG as a data URL), "$SESSION" (an open
 *         video session's id), "$ALLOWED/..." (inside the allowed folder), { "$repeat": [value, n] } (n copies, or a
 *         string repeated n times). Tokens made in the runtime (JSON cannot carry them): "$NaN", "$Infinity",
 *         "$BYTES:text" (a Buffer); "$PROXY" (an object whose every read throws) is sent by its own test, as no
 *         reply can carry it;
 *   code  the expected Sam3Error code (alternatives separated by |), or "OK" for a message that must succeed.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleFlows, startNodeRed, type FlowNode, type NodeRedRuntime } from "../support/node-red";
import { REPO, SCENE } from "../support/reference";
import { makeVideo } from "../support/synthetic-video";

interface Case {
  name: string;
  node: string;
  msg: Record<string, unknown>;
  code: string;
}

const CORPUS: Case[] = JSON.parse(readFileSync(join(REPO, "test", "security", "corpus", "node-red.json"), "utf8"));
const SECRET = `SECRET-${process.pid}-do-not-leak`;
const scratch = realpathSync(mkdtempSync(join(tmpdir(), "sam3-sec-node-red-")));
const ALLOWED = join(scratch, "allowed");
const OUT = join(scratch, "out", "exports");
const SECRET_FILE = join(scratch, "secret.txt");
const ROUTES = ["segment", "segmentFolder", "load", "text", "point", "propagate", "remove", "export"];

let runtime: NodeRedRuntime;
let session = "";

// turns the JSON-only tokens into live values inside the runtime, then routes the message to the node it names
const ROUTER = `
const live = (v) => {
  if (v === "$NaN") return NaN;
  if (v === "$Infinity") return Infinity;
  if (v === "$PROXY") return new Proxy({}, { get() { throw new Error("trap"); } });
  if (typeof v === "string" && v.startsWith("$BYTES:")) return Buffer.from(v.slice(7));
  if (Array.isArray(v)) return v.map(live);
  if (v && typeof v === "object") { const o = {}; for (const k of Object.keys(v)) o[k] = live(v[k]); return o; }
  return v;
};
const { target, msg: props } = msg.payload;
delete msg.payload;
Object.assign(msg, live(props));
return ${JSON.stringify(ROUTES)}.map((name) => (name === target ? msg : null));`;

/** The test flow: POST /sec/hostile {target, msg} -> router -> one sam3 node -> 200 {code: "OK"} or 400 {code, message}. */
function testFlow(): FlowNode[] {
  const z = "sec-tab";
  const sam3 = (id: string, type: string, settings: Record<string, unknown>): FlowNode => ({ id, type, z, name: "", model: "sec-model", wires: [["sec-ok"]], ...settings });
  const image = { property: "payload", propertyType: "msg", text: "", points: "", boxes: "", threshold: "", fineness: "", overlay: false, masks: false };
  return [
    { id: z, type: "tab", label: "security" },
    { id: "sec-model", type: "sam3-model", name: "", model: "sam3-tiny-336", device: "cpu", threads: "1", threshold: "0.5", fineness: "0" },
    { id: "sec-in", type: "http in", z, name: "", url: "/sec/hostile", method: "post", upload: false, swaggerDoc: "", wires: [["sec-router"]] },
    { id: "sec-router", type: "function", z, name: "", func: ROUTER, outputs: ROUTES.length, wires: ROUTES.map((r) => [`sec-${r}`]) },
    sam3("sec-segment", "sam3-segment-image", { ...image, paths: "off" }),
    sam3("sec-segmentFolder", "sam3-segment-image", { ...image, paths: "folder", pathFolder: ALLOWED }),
    sam3("sec-load", "sam3-load-video", { property: "payload", propertyType: "msg", maxSide: "", stride: "", paths: "folder", pathFolder: ALLOWED }),
    sam3("sec-text", "sam3-text-prompt", { text: "", frame: "" }),
    sam3("sec-point", "sam3-point-prompt", { points: "", box: "", objId: "", frame: "", coordinates: "pixels" }),
    { ...sam3("sec-propagate", "sam3-propagate", { direction: "forward", start: "", maxFrames: "" }), wires: [[], ["sec-ok"]] },
    sam3("sec-remove", "sam3-remove-object", { objIds: "" }),
    sam3("sec-export", "sam3-export-masks", { directory: OUT, stem: "", json: true, png: false, polygons: false, overlay: false, tolerance: "" }),
    {
      id: "sec-ok",
      type: "change",
      z,
      name: "",
      rules: [{ t: "set", p: "payload", pt: "msg", to: '{"code": "OK", "session": $type(session) = "object" ? session.id : session}', tot: "jsonata" }],
      wires: [["sec-out"]],
    },
    { id: "sec-catch", type: "catch", z, name: "", scope: ROUTES.map((r) => `sec-${r}`), uncaught: false, wires: [["sec-error"]] },
    {
      id: "sec-error",
      type: "change",
      z,
      name: "",
      rules: [
        { t: "set", p: "statusCode", pt: "msg", to: "400", tot: "num" },
        { t: "set", p: "payload", pt: "msg", to: '{"code": error.code, "message": error.message, "stack": error.stack}', tot: "jsonata" },
      ],
      wires: [["sec-out"]],
    },
    { id: "sec-out", type: "http response", z, name: "", statusCode: "", headers: {}, wires: [] },
  ];
}

/** Replaces the test-side tokens of a corpus message. */
function expand(value: unknown): unknown {
  if (value === "$SCENE") return `data:image/png;base64,${readFileSync(SCENE).toString("base64")}`;
  if (value === "$SESSION") return session;
  if (typeof value === "string" && value.startsWith("$ALLOWED")) return ALLOWED + value.slice("$ALLOWED".length);
  if (Array.isArray(value)) return value.map(expand);
  if (value && typeof value === "object") {
    const repeat = (value as { $repeat?: [unknown, number] }).$repeat;
    if (repeat) return typeof repeat[0] === "string" ? repeat[0].repeat(repeat[1]) : Array.from({ length: repeat[1] }, () => expand(repeat[0]));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expand(v)]));
  }
  return value;
}

async function send(node: string, msg: Record<string, unknown>, timeoutMs = 45_000): Promise<{ status: number; body: { code: string; message?: string; stack?: string; session?: string } }> {
  const response = await fetch(`${runtime.base}/sec/hostile`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ target: node, msg: expand(msg) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, body: await response.json() };
}

/** POSTs a text/plain body to an example flow's endpoint. */
async function postText(path: string, body: string) {
  const response = await fetch(`${runtime.base}${path}`, { method: "POST", headers: { "content-type": "text/plain" }, body, signal: AbortSignal.timeout(45_000) });
  return { status: response.status, type: response.headers.get("content-type") ?? "", text: await response.text() };
}

/** Every byte of every outside file these tests point at: none of it may appear in a reply. */
const LEAKS = () => [SECRET, "root:", ...["/etc/hostname"].filter(existsSync).map((f) => readFileSync(f, "utf8").trim()).filter(Boolean), readFileSync(join(REPO, "package.json"), "utf8").slice(0, 40), scratch, REPO];

beforeAll(async () => {
  mkdirSync(ALLOWED, { recursive: true });
  writeFileSync(SECRET_FILE, `${SECRET}\n`);
  copyFileSync(SCENE, join(ALLOWED, "scene.png"));
  writeFileSync(join(ALLOWED, "notes.txt"), `${SECRET} inside\n`);
  symlinkSync(SECRET_FILE, join(ALLOWED, "link-out.png"));
  mkdirSync(join(ALLOWED, "frames-linked"));
  copyFileSync(SCENE, join(ALLOWED, "frames-linked", "000.png"));
  copyFileSync(SCENE, join(scratch, "outside.png"));
  symlinkSync(join(scratch, "outside.png"), join(ALLOWED, "frames-linked", "001.png"));
  mkdirSync(join(ALLOWED, "frames"));
  for (const frame of ["000.png", "001.png"]) copyFileSync(SCENE, join(ALLOWED, "frames", frame));
  execFileSync("mkfifo", [join(ALLOWED, "pipe.png")]);
  await makeVideo(join(ALLOWED, "clip.mp4"), { width: 96, height: 64, frames: 4, fps: 4 });
  // the dashboard example among the shipped flows needs Dashboard 2.0, or the deploy would wait for its ui-* types
  runtime = await startNodeRed({}, {}, ["@flowfuse/node-red-dashboard"]);
  await runtime.deploy([...exampleFlows(), ...testFlow()], `${runtime.base}/sam3`);
}, 120_000);

afterAll(async () => {
  if (process.env.SAM3_TEST_LOG) console.log(runtime?.log());
  await runtime?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe("the shipped example flows refuse path-like HTTP bodies (real runtime)", () => {
  const existing = () => [SECRET_FILE, "/etc/passwd", join(REPO, "package.json"), join(ALLOWED, "link-out.png"), join(ALLOWED, "scene.png")];
  const missing = () => [join(scratch, "no-such-file.txt"), "/etc/no-such-file", "../../../etc/hostname", "../../../../no/such.png", "package.json"];

  for (const endpoint of ["/sam3/segment", "/sam3/snapshot"]) {
    it(`${endpoint}: the same generic 400 for an existing file, an image, a link and a missing one`, async () => {
      const replies = [];
      for (const body of [...existing(), ...missing()]) replies.push({ body, ...(await postText(endpoint, body)) });
      for (const reply of replies) {
        expect(reply.status, reply.body).toBe(400);
        expect(reply.type, reply.body).toContain("text/plain");
        for (const leak of LEAKS()) expect(reply.text, reply.body).not.toContain(leak);
      }
      // one answer for all of them: nothing tells an existing file from a missing one
      expect(new Set(replies.map((r) => r.text))).toEqual(new Set(["the body is text: send the image's bytes, not a file path (PATH_NOT_ALLOWED)"]));
    });
  }

  it("the image's bytes still work, and bytes that are no image get the generic BAD_IMAGE reason", async () => {
    const ok = await fetch(`${runtime.base}/sam3/segment?threshold=0`, { method: "POST", headers: { "content-type": "image/png" }, body: readFileSync(SCENE) });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toContain("image/png");
    const bytes = await fetch(`${runtime.base}/sam3/segment`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: "/etc/passwd" });
    expect(bytes.status).toBe(400);
    expect(await bytes.text()).toBe("the body is not an image that can be decoded: send the bytes of a JPEG, PNG or WebP (BAD_IMAGE)");
  });

  it("the runtime still answers its admin API", async () => {
    expect(await runtime.alive(), runtime.log()).toBe(true);
  });
});

describe(`hostile messages into every sam3 node (corpus: ${CORPUS.length} cases)`, () => {
  beforeAll(async () => {
    const opened = await send("load", { payload: "$ALLOWED/clip.mp4" });
    expect(opened.status, JSON.stringify(opened.body)).toBe(200);
    session = opened.body.session!;
    const prompted = await send("point", { session, points: [[20, 20]], objId: 1 });
    expect(prompted.status, JSON.stringify(prompted.body)).toBe(200);
  });

  it.each(CORPUS.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const { status, body } = await send(c.node, c.msg);
    if (c.code === "OK") {
      expect(status, JSON.stringify(body)).toBe(200);
    } else {
      expect(status, JSON.stringify(body)).toBe(400);
      expect(c.code.split("|"), JSON.stringify(body)).toContain(body.code);
      // errors carry no stack (it names server paths) and quote no file
      expect(body.stack).toBeUndefined();
      for (const leak of LEAKS()) expect(body.message).not.toContain(leak);
    }
  });

  it("msg.stem ../../x wrote inside the output folder, nothing above it", () => {
    expect(readdirSync(OUT)).toContain("_._x.frames.jsonl");
    for (let dir = dirname(OUT); dir !== dirname(scratch); dir = dirname(dir)) expect(readdirSync(dir).filter((f) => f.startsWith("x."))).toEqual([]);
  });

  it("a message that cannot even be copied (a Proxy whose every read throws) does not bring the runtime down", async () => {
    for (const node of ["segment", "load", "text", "export"]) {
      const reply = await send(node, { payload: "$PROXY", session: "$PROXY", stem: "$PROXY" }, 3_000).catch((e: Error) => e.name);
      // the catch node cannot copy it, so no reply comes; what matters is that the runtime lives
      expect(reply).toBe("TimeoutError");
    }
    expect(await runtime.alive(), runtime.log()).toBe(true);
  });

  it("a burst of every case three times at once: all answered, the runtime alive", async () => {
    const burst = [...CORPUS, ...CORPUS, ...CORPUS];
    const replies = await Promise.all(burst.map((c) => send(c.node, c.msg).then((r) => r.status, (e: Error) => e.name)));
    expect(replies.filter((s) => s !== 200 && s !== 400)).toEqual([]);
    expect(await runtime.alive(), runtime.log()).toBe(true);
    const flows: unknown[] = await (await fetch(`${runtime.base}/flows`, { headers: { accept: "application/json" } })).json();
    expect(flows.length).toBeGreaterThan(ROUTES.length);
    // 30,000 points, a megabyte of separators, 100,000-character ids: refused before any work, so memory stays flat
    const peak = runtime.peakRssMiB();
    console.log(`Node-RED peak RSS after the corpus and the burst: ${peak.toFixed(0)} MiB`);
    expect(peak).toBeLessThan(2048);
  }, 300_000);
});
