import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { networkInterfaces } from "node:os";
import { Sam3Error } from "../core";
import { WebError } from "./http";

export interface GateOptions {
  /** The address the server is bound to. */
  host: string;
  port: number;
  /** The secret every request must carry (query once, then cookie; or Authorization: Bearer); false for none. */
  token: string | false;
  /** More Host names to accept (a reverse proxy's, the machine's name). */
  allowedHosts?: string[];
}

/** Who a request is from, for quotas and ownership: a signed browser cookie, else the remote address. */
export interface Caller {
  client: string;
}

const LOOPBACK = ["127.0.0.1", "localhost", "[::1]"];
const WILDCARD = new Set(["0.0.0.0", "::", "[::]"]);
const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
// the Content-Types a cross-site page may send without a preflight (which this server never grants)
const FORM_TYPES = new Set(["", "text/plain", "multipart/form-data", "application/x-www-form-urlencoded"]);

export const newToken = () => randomBytes(24).toString("base64url");

export function checkToken(token: string): string {
  if (!/^[\w.~-]{8,256}$/.test(token)) throw new Sam3Error("BAD_OPTION", "the token must be 8 to 256 letters, digits or . _ ~ -");
  return token;
}

export const isLoopback = (host: string) => LOOPBACK.includes(bracketed(host)) || /^127\.\d+\.\d+\.\d+$/.test(host);

export const bracketed = (host: string) => (host.includes(":") && !host.startsWith("[") ? `[${host}]` : host).toLowerCase();

/**
 * The checks every request passes before any route runs: the Host (DNS rebinding), the Origin and a
 * non-form Content-Type on state-changing requests (CSRF), and the token.
 */
export class Gate {
  /** Names the server is reached by directly, on its own port. */
  private readonly hosts: Set<string>;
  /** --allowed-host names: a reverse proxy's, on whatever port it listens (443 behind TLS). */
  private readonly proxyHosts: Set<string>;
  private readonly tokenCookie: string;
  private readonly clientCookie: string;
  private readonly tokenHash?: Buffer;
  private readonly secret = randomBytes(32);

  constructor(private readonly options: GateOptions) {
    const names = [...LOOPBACK, options.host];
    // bound to every interface: the machine's own addresses are its names (a rebinding page cannot use an IP literal)
    if (WILDCARD.has(options.host)) for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.push(a.address);
    this.hosts = new Set(names.map(bracketed));
    this.proxyHosts = new Set((options.allowedHosts ?? []).map(bracketed));
    // cookies ignore ports: one name per server so two on one machine keep their own
    this.tokenCookie = `sam3_ui_token_${options.port}`;
    this.clientCookie = `sam3_ui_client_${options.port}`;
    if (options.token !== false) this.tokenHash = digest(options.token);
  }

  /** Passes the request, or throws the WebError to answer; `redirect` is set when a ?token= URL was exchanged for a cookie. */
  admit(req: IncomingMessage, res: ServerResponse, url: URL): Caller & { redirect?: string } {
    this.checkHost(req.headers.host);
    const redirect = this.checkToken(req, res, url);
    if (STATE_CHANGING.has(req.method ?? "")) this.checkSameOrigin(req);
    return { client: this.clientOf(req, res), redirect };
  }

  private checkHost(header: string | undefined) {
    const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d+))?$/i.exec(header ?? "");
    const name = match?.[1].toLowerCase() ?? "";
    const direct = this.hosts.has(name) && Number(match?.[2] ?? "80") === this.options.port;
    if (!match || !(direct || this.proxyHosts.has(name))) {
      throw new WebError(403, "FORBIDDEN", "this Host is not one this server answers to; open it by its own address (or start it with --allowed-host NAME)");
    }
  }

  private checkToken(req: IncomingMessage, res: ServerResponse, url: URL): string | undefined {
    if (!this.tokenHash) return undefined;
    const query = url.searchParams.get("token");
    if (query !== null && (req.method === "GET" || req.method === "HEAD") && this.matches(query)) {
      res.appendHeader("set-cookie", `${this.tokenCookie}=${query}; HttpOnly; SameSite=Strict; Path=/`);
      url.searchParams.delete("token");
      return url.pathname + url.search;
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    if (bearer !== undefined ? this.matches(bearer) : this.matches(cookie(req, this.tokenCookie))) return undefined;
    throw new WebError(401, "UNAUTHORIZED", "this server needs its token: open the URL that sam3 ui printed (with ?token=...), or send Authorization: Bearer TOKEN");
  }

  private checkSameOrigin(req: IncomingMessage) {
    const origin = req.headers.origin;
    // the page's own origin has the Host it was loaded from, over http, or https behind a TLS proxy
    if (origin !== undefined && !sameHost(origin, req.headers.host, this.proxyHosts)) {
      throw new WebError(403, "FORBIDDEN", "a request from another site is refused: use the page this server serves");
    }
    if (req.headers["sec-fetch-site"] === "cross-site" || req.headers["sec-fetch-site"] === "same-site") {
      throw new WebError(403, "FORBIDDEN", "a request from another site is refused: use the page this server serves");
    }
    // a body a cross-site form could send is refused too, whatever the Origin says (old browsers omit it)
    const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
    const hasBody = req.headers["content-length"] !== undefined ? req.headers["content-length"] !== "0" : req.headers["transfer-encoding"] !== undefined;
    if ((hasBody || req.method !== "DELETE") && FORM_TYPES.has(type)) {
      throw new WebError(415, "BAD_REQUEST", "send JSON (Content-Type: application/json) or a file with its own type, not a form");
    }
  }

  private matches(candidate: string | undefined): boolean {
    return candidate !== undefined && timingSafeEqual(digest(candidate), this.tokenHash!);
  }

  private clientOf(req: IncomingMessage, res: ServerResponse): string {
    const value = cookie(req, this.clientCookie);
    const [id, mac] = (value ?? "").split(".");
    if (id && mac && timingSafeEqual(digest(mac), digest(this.sign(id)))) return `browser:${id}`;
    const fresh = randomUUID();
    res.appendHeader("set-cookie", `${this.clientCookie}=${fresh}.${this.sign(fresh)}; HttpOnly; SameSite=Strict; Path=/`);
    return `address:${req.socket.remoteAddress ?? "unknown"}`;
  }

  private sign(id: string): string {
    return createHmac("sha256", this.secret).update(id).digest("base64url");
  }
}

function sameHost(origin: string, host: string | undefined, proxyHosts: Set<string>): boolean {
  try {
    const page = new URL(origin);
    const served = new URL(`http://${host}`);
    const schemes = proxyHosts.has(served.hostname.toLowerCase()) ? ["http:", "https:"] : ["http:"];
    if (!schemes.includes(page.protocol)) return false;
    // a Host without a port means the scheme's default one, as the browser's Origin does
    const defaultPort = page.protocol === "https:" ? "443" : "80";
    return page.hostname.toLowerCase() === served.hostname.toLowerCase() && (page.port || defaultPort) === (served.port || defaultPort);
  } catch {
    return false;
  }
}

const digest = (s: string) => createHash("sha256").update(s).digest();

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}
