import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type Device, parseEngine, Sam3Error, type VideoRules } from "../core";
import { bracketed, checkToken, Gate, isLoopback, newToken } from "./gate";
import { BASE_HEADERS, fail, WebError } from "./http";
import { MediaStore } from "./media-store";
import { UiModels, VIDEO_SESSIONS } from "./models";
import { routeTable, type Route } from "./routes";
import { serveStatic } from "./static-files";
import { Uploads } from "./uploads";

export interface UiOptions {
  host?: string;
  port?: number;
  model?: string;
  device?: Device;
  /** "local" (default) or a Triton server's URL the graphs run on. */
  engine?: string;
  /** Largest upload accepted, in bytes (default 200 MiB). */
  maxUploadBytes?: number;
  /** Video thresholds other than the official ones. */
  rules?: Partial<VideoRules>;
  /** The secret in the printed URL (default: a new random one); false serves loopback without one. */
  token?: string | false;
  /** More Host names to accept besides the bound address and the loopback names. */
  allowedHosts?: string[];
  /** Video sessions one client may hold (default 2; the model serves 8 in all). */
  videosPerClient?: number;
  /** Bytes one client's uploads may hold together (default 512 MiB). */
  bytesPerClient?: number;
  /** Where unexpected failures are logged with their stack (default stderr); clients only see "unexpected failure". */
  log?: (line: string) => void;
}

/** Why a server could not listen, in words (the codes Node gives). */
const LISTEN_FAILURES: Record<string, string> = {
  EADDRINUSE: "the port is in use: choose another --port",
  EADDRNOTAVAIL: "that address is not one of this machine's: choose another --host",
  EACCES: "ports below 1024 need privileges: choose a higher --port",
  ENOTFOUND: "that host name does not resolve: give an address such as 127.0.0.1",
};

/** The interactive page and its JSON API over one shared model: images segmented at once, videos as sessions. */
export async function startUi(options: UiOptions = {}): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const host = options.host ?? "127.0.0.1";
  // a bad engine URL is refused before anything listens or loads
  parseEngine(options.engine);
  const token = options.token === false ? false : checkToken(options.token ?? newToken());
  if (token === false && !isLoopback(host)) {
    throw new Sam3Error("BAD_OPTION", `serving ${host} without a token would let anyone on the network use it: keep the token (drop --no-token) or bind to 127.0.0.1`);
  }
  const log = options.log ?? ((line: string) => void process.stderr.write(`sam3 ui: ${line}\n`));
  const models = new UiModels(options, log);
  const store = new MediaStore(
    { uploadsPerClient: 8, videosPerClient: options.videosPerClient ?? 2, bytesPerClient: options.bytesPerClient ?? 512 * 2 ** 20, uploads: 32, videos: VIDEO_SESSIONS, idleMs: 30 * 60_000 },
    async (media) => {
      if (media.kind === "video" && models.predictor) await models.predictor.handleRequest({ type: "close_session", session_id: media.sessionId });
    },
  );
  const routes = routeTable(store, models, new Uploads(store, models, options.maxUploadBytes ?? 200 * 2 ** 20));
  let gate: Gate | undefined;
  const server = createServer((req, res) => void handle(gate!, routes, req, res).catch((e) => fail(req, res, e, log)));
  const port = options.port ?? 8080;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e: NodeJS.ErrnoException) => reject(new Sam3Error("BAD_OPTION", `cannot listen on ${host}:${port}: ${LISTEN_FAILURES[e.code ?? ""] ?? e.code ?? "refused"}`)));
      server.listen(port, host, () => resolve());
    });
  } catch (e) {
    // nothing will serve: the model that started loading is released
    await store.clear();
    await models.close();
    throw e;
  }
  const address = server.address() as { port: number };
  gate = new Gate({ host, port: address.port, token, allowedHosts: options.allowedHosts });
  return {
    server,
    url: `http://${bracketed(host)}:${address.port}/${token ? `?token=${token}` : ""}`,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await store.clear();
      await models.close();
    },
  };
}

/** Every request passes the gate, then goes to its route, or to the page's files. */
async function handle(gate: Gate, routes: Route[], req: IncomingMessage, res: ServerResponse) {
  for (const [name, value] of Object.entries(BASE_HEADERS)) res.setHeader(name, value);
  const url = requestUrl(req);
  const { client, redirect } = gate.admit(req, res, url);
  if (redirect) return void res.writeHead(302, { location: redirect }).end();
  const route = routes.find((r) => r.method === req.method && r.path.test(url.pathname));
  if (route) return route.handle({ req, res, params: route.path.exec(url.pathname)!.slice(1), client });
  if (url.pathname.startsWith("/api/")) throw new WebError(404, "BAD_REQUEST", `there is no ${req.method} ${url.pathname.slice(0, 100)}`);
  serveStatic(req, url.pathname, res);
}

function requestUrl(req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? "/", "http://ui");
  } catch {
    throw new WebError(400, "BAD_REQUEST", "the request URL cannot be read");
  }
}
