import type { IncomingMessage, ServerResponse } from "node:http";
import { homedir, tmpdir } from "node:os";
import { formatBytes, isSam3Error, PACKAGE_ROOT, Sam3Error, type Sam3ErrorCode } from "../core";

/** A refusal at the HTTP edge: a Sam3Error code for the client plus the HTTP status that carries it. */
export class WebError extends Sam3Error {
  constructor(readonly status: number, code: Sam3ErrorCode, message: string) {
    super(code, message);
  }
}

/** Largest JSON body: a full prompt (64 points, a box, 16 concepts of 500 characters) is far below it. */
export const JSON_LIMIT = 64 * 2 ** 10;

const STATUS: Partial<Record<Sam3ErrorCode, number>> = {
  UNKNOWN_SESSION: 404,
  UNKNOWN_OBJECT: 404,
  CLOSED: 404,
  // the request is well formed, but this server's model pack cannot do what it asks
  MISSING_CAPABILITY: 422,
  // a request over a size or count bound (quotas are answered 429 where they are checked)
  LIMIT_EXCEEDED: 413,
  TIMEOUT: 503,
  REMOTE_UNAVAILABLE: 503,
  REMOTE_MODEL_MISSING: 502,
  REMOTE_FAILED: 502,
  FFMPEG_FAILED: 500,
  PACK_INVALID: 500,
  WRITE_FAILED: 500,
  INTERNAL: 500,
};

/** Headers every answer carries: no framing (clickjacking), no sniffing, no token leaking through Referer. */
export const BASE_HEADERS = {
  "x-content-type-options": "nosniff",
  "content-security-policy": "frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
};

export function json(res: ServerResponse, value: unknown, status = 200): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(value));
}

export function send(res: ServerResponse, type: string, data: Buffer | string, name: string): void {
  res.writeHead(200, { "content-type": type, "cache-control": "no-store", "content-disposition": `attachment; filename="${name}"` }).end(data);
}

/**
 * The error as the client sees it: `{error, code}` with no server path or stack; anything that is not a
 * Sam3Error is INTERNAL and only its stack goes to the server log.
 */
export function errorReply(e: unknown, log: (line: string) => void): { status: number; body: { error: string; code: Sam3ErrorCode } } {
  if (e instanceof WebError) return { status: e.status, body: { error: e.message, code: e.code } };
  if (isSam3Error(e)) return { status: STATUS[e.code] ?? 400, body: { error: hidePaths(e.message), code: e.code } };
  log(`unexpected failure: ${(e as Error)?.stack ?? String(e)}`);
  return { status: 500, body: { error: "unexpected failure", code: "INTERNAL" } };
}

export function fail(req: IncomingMessage, res: ServerResponse, e: unknown, log: (line: string) => void): void {
  const { status, body } = errorReply(e, log);
  if (res.headersSent) return void res.end(JSON.stringify(body) + "\n");
  // a refused body is not read on: close the connection once the answer is out
  if (status === 413) res.once("finish", () => req.destroy());
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...(status === 413 ? { connection: "close" } : {}) });
  res.end(JSON.stringify(body));
}

const SERVER_FOLDERS = [...new Set([PACKAGE_ROOT, tmpdir(), process.cwd(), homedir()].filter((p) => p.length > 1))].sort((a, b) => b.length - a.length);
const ABSOLUTE_PATH = /(^|[\s"'(=[])((?:[A-Za-z]:)?[\\/](?:[^\s"'()[\]\\/]+[\\/])+[^\s"'()[\],;]*)/g;

/** A core message with the server's folders and absolute paths taken out (a user's own relative path stays). */
export function hidePaths(message: string): string {
  let out = message;
  for (const folder of SERVER_FOLDERS) out = out.split(folder).join("<server>");
  return out.replace(ABSOLUTE_PATH, "$1<server path>").replace(/<server>[^\s"'()[\],;]*/g, "<server path>");
}

/**
 * The request body, refused with 413 as soon as it passes `limit` bytes (declared or counted, chunked or not):
 * the rest is never buffered.
 */
export function readBody(req: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const tooLarge = () => new WebError(413, "LIMIT_EXCEEDED", `${what} is larger than the ${formatBytes(limit)} limit`);
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (declared > limit) return reject(tooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.off("data", onData);
      chunks.length = 0;
      // keep draining what is already on its way so the 413 can be read, without keeping it
      req.resume();
      reject(tooLarge());
    };
    req.on("data", onData);
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", () => reject(new WebError(400, "BAD_REQUEST", `${what} was cut off`)));
  });
}

/** A JSON body: `application/json` only (a cross-site form cannot send it), capped before parsing. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  requireJson(req);
  const text = (await readBody(req, JSON_LIMIT, "the request body")).toString("utf8");
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new WebError(400, "BAD_REQUEST", "the request body is not valid JSON");
  }
}

export function requireJson(req: IncomingMessage): void {
  const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json") throw new WebError(415, "BAD_REQUEST", "send this request as Content-Type: application/json");
}
