/**
 * The web UI server (`sam3 ui`) as an attacker or a careless client meets it, over real HTTP against startUi
 * (and the CLI as a subprocess): Host and Origin attacks, the token, body and upload limits, corrupt images,
 * per-client quotas and ownership, closing uploads, and error bodies without server paths.
 *
 * Corpus entries (corpus/web.json): { name, method, path, headers?, json?, body?, auth?, status, code }
 *   path / header values may hold {image}, {video} (this client's uploads), {port} and {token};
 *   json is sent as Content-Type: application/json unless headers say otherwise; body is sent raw;
 *   auth: false sends no token (default: the token as Authorization: Bearer);
 *   status is the expected HTTP status and code the Sam3Error code in the JSON answer.
 */
import { spawn } from "node:child_process";
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { request, type IncomingHttpHeaders } from "node:http";
import { connect } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sam3Error } from "../../core/errors";
import { cli } from "../support/cli";
import { errorReply, hidePaths } from "../../web/http";
import { startUi } from "../../web/server";
import { REPO, SCENE } from "../support/reference";
import { makeVideo } from "../support/synthetic-video";

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json?: { error?: string; code?: string; [key: string]: unknown };
}

interface Call {
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Send the token as Authorization: Bearer (default true). */
  auth?: boolean;
  /** The client cookie to send (the quota and ownership identity). */
  client?: string;
}

const UPLOAD_LIMIT = 2 * 2 ** 20;
const scratch = mkdtempSync(join(tmpdir(), "sam3-web-sec-"));
const errorBodies: string[] = [];
const logged: string[] = [];
let ui: Awaited<ReturnType<typeof startUi>>;
let port: number;
let token: string;
let clip: string;
let clientA: string;

function call(method: string, path: string, options: Call = {}): Promise<Answer> {
  const headers: Record<string, string> = { host: `127.0.0.1:${port}`, ...options.headers };
  if (options.auth !== false && !headers.authorization) headers.authorization = `Bearer ${token}`;
  if (options.client) headers.cookie = [headers.cookie, options.client].filter(Boolean).join("; ");
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(answer(res.statusCode!, res.headers, Buffer.concat(chunks).toString("utf8"))));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

function answer(status: number, headers: IncomingHttpHeaders, text: string): Answer {
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (status >= 400) errorBodies.push(text);
  return { status, headers, text, json };
}

const postJson = (path: string, value: unknown, options: Call = {}) =>
  call("POST", path, { ...options, headers: { "content-type": "application/json", ...options.headers }, body: typeof value === "string" ? value : JSON.stringify(value) });

const upload = (bytes: Buffer, name: string, options: Call = {}) =>
  call("POST", "/api/media", { ...options, headers: { "content-type": "application/octet-stream", "x-file-name": encodeURIComponent(name), ...options.headers }, body: bytes });

/** A fresh client identity: the signed cookie the server hands a browser on its first request. */
async function newClient(): Promise<string> {
  const res = await call("GET", "/api/info");
  const cookie = ([] as string[]).concat(res.headers["set-cookie"] ?? []).find((c) => c.startsWith(`sam3_ui_client_${port}=`));
  expect(cookie).toBeDefined();
  return cookie!.split(";")[0];
}

async function expectAlive() {
  const info = await call("GET", "/api/info");
  expect(info.status).toBe(200);
}

const rssMiB = () => process.memoryUsage().rss / 2 ** 20;

beforeAll(async () => {
  clip = await makeVideo(join(scratch, "clip.mp4"), { width: 96, height: 64, frames: 6, fps: 6 });
  ui = await startUi({ port: 0, maxUploadBytes: UPLOAD_LIMIT, rules: { presenceThreshold: 0 }, log: (l) => logged.push(l) });
  const url = new URL(ui.url);
  port = Number(url.port);
  token = url.searchParams.get("token")!;
  clientA = await newClient();
  // wait for the model so later timings measure the checks, not the load
  while (!(await call("GET", "/api/info")).json?.ready) await new Promise((r) => setTimeout(r, 250));
}, 180_000);

afterAll(async () => {
  await ui?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe("web UI: who may talk to it", () => {
  it("prints a tokened URL and refuses requests without the token", async () => {
    expect(ui.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/\\?token=[\\w.~-]{20,}$`));
    for (const headers of [{}, { authorization: "Bearer wrong-token-123" }, { cookie: `sam3_ui_token_${port}=wrong-token-123` }] as Record<string, string>[]) {
      const res = await call("GET", "/api/info", { auth: false, headers });
      expect(res.status).toBe(401);
      expect(res.json?.code).toBe("UNAUTHORIZED");
    }
    expect((await call("GET", "/", { auth: false })).status).toBe(401);
    expect((await call("GET", `/api/info?token=not-${token}`, { auth: false })).status).toBe(401);
  });

  it("exchanges ?token= once for an HttpOnly SameSite=Strict cookie and a clean URL", async () => {
    const first = await call("GET", `/?token=${token}`, { auth: false });
    expect(first.status).toBe(302);
    expect(first.headers.location).toBe("/");
    const cookie = ([] as string[]).concat(first.headers["set-cookie"] ?? []).find((c) => c.startsWith(`sam3_ui_token_${port}=`))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const page = await call("GET", "/", { auth: false, headers: { cookie: cookie.split(";")[0] } });
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/<script type="module" src="main.js">/);
    expect(page.headers["content-security-policy"]).toMatch(/frame-ancestors 'none'/);
  });

  it("answers only to its own Host names (DNS rebinding)", async () => {
    for (const host of ["evil.example", `evil.example:${port}`, `127.0.0.1:${port + 1}`, `localhost.evil.example:${port}`, `127.0.0.1.nip.io:${port}`]) {
      const res = await call("GET", "/api/info", { headers: { host } });
      expect(res.status, host).toBe(403);
      expect(res.json?.code).toBe("FORBIDDEN");
    }
    // no Host at all (HTTP/1.0)
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => socket.end(`GET /api/info HTTP/1.0\r\nAuthorization: Bearer ${token}\r\n\r\n`));
      let text = "";
      socket.on("data", (c) => (text += c.toString()));
      socket.on("end", () => resolve(text));
      socket.on("error", reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 403/);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
      expect((await call("GET", "/api/info", { headers: { host } })).status, host).toBe(200);
    }
  });

  it("refuses state-changing requests from other origins, and form bodies whatever the Origin", async () => {
    const png = readFileSync(SCENE);
    for (const origin of ["http://evil.example", "null", `http://127.0.0.1:${port + 1}`, `https://127.0.0.1:${port}`]) {
      const res = await upload(png, "scene.png", { headers: { origin } });
      expect(res.status, origin).toBe(403);
    }
    expect((await upload(png, "scene.png", { headers: { "sec-fetch-site": "cross-site" } })).status).toBe(403);
    // what a cross-site <form> or no-cors fetch can send: never reaches an upload or a JSON endpoint
    for (const type of ["text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"]) {
      expect((await upload(png, "scene.png", { headers: { "content-type": type } })).status, type).toBe(415);
    }
    const noType = await call("POST", "/api/media", { body: png });
    expect(noType.status).toBe(415);
    const image = await upload(png, "scene.png", { client: clientA, headers: { origin: `http://127.0.0.1:${port}` } });
    expect(image.status).toBe(200);
    const plain = await call("POST", `/api/media/${image.json!.id}/segment`, { client: clientA, headers: { "content-type": "text/plain" }, body: JSON.stringify({ text: "red circle" }) });
    expect(plain.status).toBe(415);
    const octet = await call("POST", `/api/media/${image.json!.id}/segment`, { client: clientA, headers: { "content-type": "application/octet-stream" }, body: "{}" });
    expect(octet.status).toBe(415);
    expect((await call("DELETE", `/api/media/${image.json!.id}`, { client: clientA, headers: { origin: "http://evil.example" } })).status).toBe(403);
    expect((await call("DELETE", `/api/media/${image.json!.id}`, { client: clientA })).status).toBe(200);
  });
});

describe("web UI: behind a reverse proxy (--allowed-host)", () => {
  it("answers the proxy's name on any port, and takes POSTs from its https page only", async () => {
    const proxied = await startUi({ port: 0, allowedHosts: ["proxy.example"], log: () => undefined });
    try {
      const url = new URL(proxied.url);
      const auth = { authorization: `Bearer ${url.searchParams.get("token")}` };
      const ask = (headers: Record<string, string>, method = "GET", body?: Buffer) =>
        new Promise<number>((resolve, reject) => {
          const req = request({ host: "127.0.0.1", port: Number(url.port), method, path: method === "GET" ? "/api/info" : "/api/media", headers: { ...auth, ...headers } }, (res) => {
            res.resume();
            resolve(res.statusCode!);
          });
          req.on("error", reject);
          req.end(body);
        });
      for (const host of ["proxy.example", "proxy.example:443", "PROXY.example:8443"]) expect(await ask({ host }), host).toBe(200);
      expect(await ask({ host: "evil.example" })).toBe(403);
      const png = readFileSync(SCENE);
      const post = (origin: string) => ask({ host: "proxy.example", origin, "content-type": "application/octet-stream", "x-file-name": "scene.png" }, "POST", png);
      expect(await post("https://proxy.example")).toBe(200);
      for (const origin of ["https://evil.example", "https://proxy.example:8443", "http://proxy.example.evil.example", "null"]) expect(await post(origin), origin).toBe(403);
    } finally {
      await proxied.close();
    }
  });
});

describe("web UI: bounded requests", () => {
  it("answers a chunked upload past the limit with 413 as soon as it passes, and stays up", async () => {
    const result = await new Promise<{ status: number; sent: number; body: string }>((resolve, reject) => {
      let sent = 0;
      let done = false;
      const req = request({ host: "127.0.0.1", port, method: "POST", path: "/api/media", headers: { host: `127.0.0.1:${port}`, authorization: `Bearer ${token}`, "content-type": "video/mp4", "transfer-encoding": "chunked" } }, (res) => {
        done = true;
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode!, sent, body: Buffer.concat(chunks).toString() }));
        res.on("error", () => resolve({ status: res.statusCode!, sent, body: Buffer.concat(chunks).toString() }));
      });
      req.on("error", (e) => (done ? undefined : reject(e)));
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = () => {
        // 64 MiB would be sent if the server kept reading
        while (!done && sent < 64 * 2 ** 20) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
        if (!done) req.end();
      };
      pump();
    });
    expect(result.status).toBe(413);
    expect(JSON.parse(result.body).code).toBe("LIMIT_EXCEEDED");
    expect(result.sent).toBeLessThan(UPLOAD_LIMIT + 16 * 2 ** 20);
    const declared = await call("POST", "/api/media", { headers: { "content-type": "video/mp4", "content-length": String(UPLOAD_LIMIT + 1) } }).catch(() => undefined);
    if (declared) expect(declared.status).toBe(413);
    await expectAlive();
  });

  it("refuses a 528 KB body of 30,000 points before any work, with bounded memory", async () => {
    const image = await upload(readFileSync(SCENE), "scene.png", { client: clientA });
    const path = `/api/media/${image.json!.id}/segment`;
    const points = Array.from({ length: 30_000 }, (_, i) => ({ x: 10 + (i % 200) + 0.5, y: 10 + (i % 150) }));
    const body = JSON.stringify({ points });
    expect(body.length).toBeGreaterThan(500_000);
    const before = rssMiB();
    let peak = before;
    const started = Date.now();
    for (let i = 0; i < 20; i++) {
      const res = await postJson(path, body, { client: clientA });
      expect(res.status).toBe(413);
      expect(res.json?.code).toBe("LIMIT_EXCEEDED");
      peak = Math.max(peak, rssMiB());
    }
    const elapsed = (Date.now() - started) / 20;
    console.log(`30,000-point body (${(body.length / 1024).toFixed(0)} KB) x20: ${elapsed.toFixed(1)} ms each, RSS ${before.toFixed(0)} -> peak ${peak.toFixed(0)} MiB`);
    expect(peak - before).toBeLessThan(64);
    // under the byte cap, the count is still checked before the model runs
    const many = await postJson(path, { points: points.slice(0, 65) }, { client: clientA });
    expect(many.status).toBe(400);
    expect(many.json?.code).toBe("LIMIT_EXCEEDED");
    const concepts = await postJson(path, { text: Array.from({ length: 17 }, (_, i) => `thing ${i}`).join(",") }, { client: clientA });
    expect(concepts.json?.code).toBe("LIMIT_EXCEEDED");
    await call("DELETE", `/api/media/${image.json!.id}`, { client: clientA });
    await expectAlive();
  });

  it("calls a truncated or corrupt image BAD_IMAGE, not a 1-frame video", async () => {
    const png = readFileSync(SCENE);
    const jpeg = await sharp(png).jpeg().toBuffer();
    const garbled = Buffer.from(png);
    garbled.fill(0x55, 40, png.length - 12);
    for (const [name, bytes] of [["half.png", png.subarray(0, png.length >> 1)], ["half.jpg", jpeg.subarray(0, jpeg.length >> 1)], ["garbled.png", garbled], ["header.png", png.subarray(0, 16)]] as const) {
      const res = await upload(bytes, name, { client: clientA });
      expect(res.status, name).toBe(400);
      expect(res.json?.code, name).toBe("BAD_IMAGE");
      expect(res.json?.error).toContain(name);
    }
    // a PNG whose header claims 40000x40000: refused from the header, nothing decoded
    const header = Buffer.alloc(13);
    header.writeUInt32BE(40_000, 0);
    header.writeUInt32BE(40_000, 4);
    header.set([8, 2, 0, 0, 0], 8);
    const chunk = (type: string, data: Buffer) => {
      const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
      const out = Buffer.alloc(body.length + 8);
      out.writeUInt32BE(data.length, 0);
      body.copy(out, 4);
      out.writeUInt32BE(crc32(body), body.length + 4);
      return out;
    };
    const bomb = Buffer.concat([png.subarray(0, 8), chunk("IHDR", header), chunk("IDAT", Buffer.alloc(64)), chunk("IEND", Buffer.alloc(0))]);
    const before = rssMiB();
    const huge = await upload(bomb, "bomb.png", { client: clientA });
    expect(huge.status).toBe(400);
    expect(huge.json).toMatchObject({ code: "BAD_IMAGE", error: expect.stringMatching(/40000x40000, over the limit/) });
    expect(rssMiB() - before).toBeLessThan(64);
    const junk = await upload(Buffer.from("not media at all"), "notes.txt", { client: clientA });
    expect(junk.status).toBe(415);
    expect(junk.json?.code).toBe("BAD_VIDEO");
  });
});

describe("web UI: fair sharing and closing", () => {
  it("gives each client at most 2 videos, scopes uploads to their owner, and frees the quota on close", async () => {
    const video = readFileSync(clip);
    const [a, b] = [await newClient(), await newClient()];
    const first = await upload(video, "a1.mp4", { client: a });
    const second = await upload(video, "a2.mp4", { client: a });
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await upload(video, "a3.mp4", { client: a });
    expect(third.status).toBe(429);
    expect(third.json?.code).toBe("LIMIT_EXCEEDED");
    expect(third.json?.error).toMatch(/2 videos/);
    // another client is not affected by a's uploads, and cannot see, use or close them
    const theirs = await upload(video, "b1.mp4", { client: b });
    expect(theirs.status).toBe(200);
    const id = first.json!.id as string;
    expect((await call("GET", `/api/media/${id}/frames/0`, { client: b })).status).toBe(404);
    expect((await postJson(`/api/media/${id}/segment`, { points: [{ x: 10, y: 10 }] }, { client: b })).status).toBe(404);
    expect((await call("DELETE", `/api/media/${id}`, { client: b })).status).toBe(404);
    expect((await call("GET", `/api/media/${id}/frames/0`, { client: a })).headers["content-type"]).toBe("image/jpeg");
    // closing frees the slot; the closed upload is gone
    const closed = await call("DELETE", `/api/media/${id}`, { client: a });
    expect(closed.json).toEqual({ closed: true });
    expect((await call("GET", `/api/media/${id}/frames/0`, { client: a })).json?.code).toBe("UNKNOWN_SESSION");
    expect((await call("DELETE", `/api/media/${id}`, { client: a })).status).toBe(404);
    const again = await upload(video, "a3.mp4", { client: a });
    expect(again.status).toBe(200);
    for (const [client, m] of [[a, second], [a, again], [b, theirs]] as const) expect((await call("DELETE", `/api/media/${m.json!.id}`, { client })).status).toBe(200);
  });

  it("caps the uploads one client holds", async () => {
    const c = await newClient();
    const png = readFileSync(SCENE);
    const ids: string[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const res = await upload(png, `scene-${i}.png`, { client: c });
        expect(res.status).toBe(200);
        ids.push(res.json!.id as string);
      }
      const ninth = await upload(png, "scene-9.png", { client: c });
      expect(ninth.status).toBe(429);
      expect(ninth.json?.error).toMatch(/8 uploads/);
      // someone else still gets in
      const other = await upload(png, "other.png", { client: await newClient() });
      expect(other.status).toBe(200);
    } finally {
      for (const id of ids) await call("DELETE", `/api/media/${id}`, { client: c });
    }
  });

  it("caps the bytes one client holds", async () => {
    const { width, height } = await sharp(SCENE).metadata();
    const decoded = width! * height! * 3;
    const small = await startUi({ port: 0, bytesPerClient: Math.round(decoded * 2.5), log: () => undefined });
    try {
      const url = new URL(small.url);
      const auth = { host: url.host, authorization: `Bearer ${url.searchParams.get("token")}`, "content-type": "image/png" };
      const send = () =>
        new Promise<number>((resolve, reject) => {
          const req = request({ host: "127.0.0.1", port: Number(url.port), method: "POST", path: "/api/media", headers: auth }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode!));
          });
          req.on("error", reject);
          req.end(readFileSync(SCENE));
        });
      // the quota counts decoded pixels: two scenes fit in 2.5 of them, the third does not
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push(await send());
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await small.close();
    }
  });

  it("refuses out-of-range frames, unknown ids and bad objects without touching the session", async () => {
    const video = await upload(readFileSync(clip), "clip.mp4", { client: clientA });
    const id = video.json!.id as string;
    try {
      for (const frame of ["6", "99999999999999999999", "-1", "1e3", "0x1", "1.5"]) {
        const res = await call("GET", `/api/media/${id}/frames/${frame}`, { client: clientA });
        expect(res.status, frame).toBe(400);
        expect(res.json?.code).toBe("BAD_REQUEST");
      }
      const outside = await postJson(`/api/media/${id}/segment`, { frame: 0, points: [{ x: 500, y: 10 }] }, { client: clientA });
      expect(outside.json?.code).toBe("BAD_PROMPT");
      const clicked = await postJson(`/api/media/${id}/segment`, { frame: 0, points: [{ x: 20, y: 20 }] }, { client: clientA });
      expect(clicked.status).toBe(200);
      expect((await call("DELETE", `/api/media/${id}/objects/77`, { client: clientA })).json?.code).toBe("UNKNOWN_OBJECT");
      const objects = await call("GET", `/api/media/${id}/frames/0/objects`, { client: clientA });
      expect((objects.json!.objects as unknown[]).length).toBe(1);
    } finally {
      await call("DELETE", `/api/media/${id}`, { client: clientA });
    }
  });
});

describe("web UI: error bodies", () => {
  it("hides server paths and stacks: INTERNAL for the unexpected, no folder names in core messages", () => {
    const lines: string[] = [];
    const internal = errorReply(new Error(`EACCES: open '${REPO}/secret'`), (l) => lines.push(l));
    expect(internal).toEqual({ status: 500, body: { error: "unexpected failure", code: "INTERNAL" } });
    expect(lines[0]).toMatch(/secret/);
    const core = errorReply(new Sam3Error("BAD_REQUEST", `frame 9 is out of range: ${tmpdir()}/sam3-upload-x1/upload.mp4 has frames 0..5`), () => undefined);
    expect(core.body.error).not.toContain(tmpdir());
    expect(core.body.error).toMatch(/frame 9 is out of range: .* has frames 0\.\.5/);
    expect(hidePaths(`cannot open "/etc/passwd" or C:\\Users\\me\\x.png`)).not.toMatch(/passwd|Users/);
  });

  it("never shows the temp folder, the repository or a stack in any error answer", () => {
    expect(errorBodies.length).toBeGreaterThan(30);
    for (const body of errorBodies) {
      for (const secret of [tmpdir() + "/", REPO, homedir() + "/", scratch, "sam3-upload-", "    at "]) expect(body, body).not.toContain(secret);
      expect(JSON.parse(body)).toMatchObject({ error: expect.any(String), code: expect.any(String) });
    }
  });
});

describe("web UI: bad-input corpus", () => {
  interface Case {
    name: string;
    method: string;
    path: string;
    headers?: Record<string, string>;
    json?: unknown;
    body?: string;
    auth?: boolean;
    status: number;
    code: string;
  }
  const cases = JSON.parse(readFileSync(join(__dirname, "corpus", "web.json"), "utf8")) as Case[];

  it(`answers all ${cases.length} cases with their status and code, and stays up`, async () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
    const image = await upload(readFileSync(SCENE), "scene.png", { client: clientA });
    const video = await upload(readFileSync(clip), "clip.mp4", { client: clientA });
    const fill = (s: string) => s.replaceAll("{image}", image.json!.id as string).replaceAll("{video}", video.json!.id as string).replaceAll("{port}", String(port)).replaceAll("{token}", token);
    for (const c of cases) {
      const headers = Object.fromEntries(Object.entries(c.headers ?? {}).map(([k, v]) => [k, fill(v)]));
      const body = c.json !== undefined ? JSON.stringify(c.json) : c.body;
      if (c.json !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
      const res = await call(c.method, fill(c.path), { headers, body, auth: c.auth, client: clientA });
      expect({ name: c.name, status: res.status, code: res.json?.code }).toEqual({ name: c.name, status: c.status, code: c.code });
      await expectAlive();
    }
    await call("DELETE", `/api/media/${image.json!.id}`, { client: clientA });
    await call("DELETE", `/api/media/${video.json!.id}`, { client: clientA });
  });
});

describe("sam3 ui (subprocess)", () => {
  const MAIN = join(REPO, "dist", "cli", "main.js");

  it("prints a tokened URL and needs that token", async () => {
    const child = spawn(process.execPath, [MAIN, "ui", "--port", "0"], { cwd: REPO, stdio: ["ignore", "ignore", "pipe"] });
    try {
      const url = await new Promise<URL>((resolve, reject) => {
        let err = "";
        child.stderr.on("data", (c: Buffer) => {
          err += c.toString();
          const m = /open (http:\S+)/.exec(err);
          if (m) resolve(new URL(m[1]));
        });
        child.once("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      expect(url.searchParams.get("token")).toMatch(/^[\w-]{20,}$/);
      const get = (path: string) =>
        new Promise<number>((resolve, reject) => {
          request({ host: "127.0.0.1", port: Number(url.port), path, headers: { host: url.host } }, (res) => {
            res.resume();
            resolve(res.statusCode!);
          })
            .on("error", reject)
            .end();
        });
      expect(await get("/api/info")).toBe(401);
      expect(await get(`/?token=${url.searchParams.get("token")}`)).toBe(302);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  });

  it("says in one line why it cannot listen: a bad port, a port in use, an address not of this machine", async () => {
    const busy = await startUi({ port: 0, log: () => undefined });
    try {
      const taken = new URL(busy.url).port;
      for (const [args, reason] of [
        [["--port", "99999"], /--port must be a whole number from 0 to 65535/],
        [["--port", taken], /the port is in use/],
        [["--host", "203.0.113.9", "--port", "0"], /not one of this machine's/],
      ] as const) {
        const run = await cli("ui", ...args);
        expect(run.code, run.stderr).toBe(2);
        expect(run.stderr.trim().split("\n")).toHaveLength(1);
        expect(run.stderr).toMatch(reason);
      }
    } finally {
      await busy.close();
    }
  });

  it("refuses --no-token on a network address", async () => {
    const child = spawn(process.execPath, [MAIN, "ui", "--port", "0", "--host", "0.0.0.0", "--no-token"], { cwd: REPO, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const code = await new Promise((r) => child.once("exit", r));
    expect(code).toBe(2);
    expect(err).toMatch(/without a token/);
    expect(err).not.toMatch(/\n\s+at /);
  });
});
