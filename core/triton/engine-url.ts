import { Sam3Error } from "../errors";

/** Where the graphs run: a Triton (KServe v2) server's HTTP endpoint, with its per-call bounds. */
export interface TritonTarget {
  /** The server's base URL (http or https, with any path prefix a gateway adds), ending without a slash. */
  base: string;
  /** host:port, what messages name (never a credential: URLs with one are refused). */
  label: string;
  /** Each try of a graph call gives up after this long. */
  timeoutMs: number;
  /** Extra tries of a call the server did not answer (graph calls have no side effects). */
  retries: number;
}

export const ENGINE_HELP = "local, or a Triton server's URL such as triton://host:8000 (http://, https:// work too; ?timeout=SECONDS&retries=N)";
const DEFAULT_PORT = 8000;
const DEFAULTS = { timeoutMs: 120_000, retries: 3 };
const MAX_TIMEOUT_S = 3600;
const MAX_RETRIES = 10;

/** Undefined for the local engine (onnxruntime in this process), else the Triton server to run the graphs on. */
export function parseEngine(text: unknown): TritonTarget | undefined {
  if (text !== undefined && typeof text !== "string") throw new Sam3Error("BAD_OPTION", `engine must be a string: give ${ENGINE_HELP}`);
  const raw = (text ?? "").trim();
  if (raw === "" || raw === "local") return undefined;
  const bad = (why: string) => new Sam3Error("BAD_OPTION", `engine ${why}: give ${ENGINE_HELP}`);
  if (raw.length > 2048) throw bad("is too long");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad(`"${raw.slice(0, 60)}" is not a URL`);
  }
  const scheme = { "triton:": "http:", "http:": "http:", "https:": "https:" }[url.protocol];
  if (!scheme) throw bad(`scheme ${url.protocol.slice(0, 20)} is not supported`);
  if (url.username || url.password) throw bad("URL must not carry a user or password");
  if (!url.hostname) throw bad("URL names no host");
  if (url.hash) throw bad("URL must not have a #fragment");
  const target = { ...DEFAULTS };
  for (const [key, value] of url.searchParams) {
    const n = Number(value);
    if (key === "timeout" && value !== "" && n > 0 && n <= MAX_TIMEOUT_S) target.timeoutMs = Math.round(n * 1000);
    else if (key === "retries" && value !== "" && Number.isInteger(n) && n >= 0 && n <= MAX_RETRIES) target.retries = n;
    else if (key === "timeout") throw bad(`timeout must be seconds above 0, at most ${MAX_TIMEOUT_S}`);
    else if (key === "retries") throw bad(`retries must be a whole number from 0 to ${MAX_RETRIES}`);
    else throw bad(`option ${key.slice(0, 30)} is unknown`);
  }
  const port = url.port || (url.protocol === "triton:" ? String(DEFAULT_PORT) : scheme === "https:" ? "443" : "80");
  const path = url.pathname.replace(/\/+$/, "");
  return { base: `${scheme}//${url.hostname}:${port}${path}`, label: `${url.hostname}:${port}`, ...target };
}
