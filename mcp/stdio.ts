import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { JSONRPCMessageSchema, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { Readable, Writable } from "node:stream";

/** Bytes kept from each end of a refused line: enough to find its JSON-RPC id. */
const END_BYTES = 1024;

/**
 * Splits a byte stream into lines of at most `maxBytes` without copying it over and over; a longer line is
 * dropped as it arrives, keeping only its two ends, so one huge message cannot exhaust memory.
 */
class LineSplitter {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped?: { head: Buffer; tail: Buffer; bytes: number };

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: Buffer) => void,
    private readonly onTooLong: (head: string, tail: string, bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    for (let start = 0; start < chunk.length; ) {
      const newline = chunk.indexOf(10, start);
      this.take(chunk.subarray(start, newline === -1 ? chunk.length : newline));
      if (newline === -1) return;
      this.endLine();
      start = newline + 1;
    }
  }

  private take(piece: Buffer) {
    if (this.dropped) {
      this.dropped.bytes += piece.length;
      this.dropped.tail = Buffer.concat([this.dropped.tail, piece.subarray(-END_BYTES)]).subarray(-END_BYTES);
    } else if (this.size + piece.length > this.maxBytes) {
      const all = Buffer.concat([...this.chunks, piece]);
      this.dropped = { head: Buffer.from(all.subarray(0, END_BYTES)), tail: Buffer.from(all.subarray(-END_BYTES)), bytes: all.length };
      this.chunks = [];
      this.size = 0;
    } else if (piece.length) {
      this.chunks.push(piece);
      this.size += piece.length;
    }
  }

  private endLine() {
    if (this.dropped) {
      const { head, tail, bytes } = this.dropped;
      this.dropped = undefined;
      this.onTooLong(head.toString("utf8"), tail.toString("utf8"), bytes);
      return;
    }
    const line = Buffer.concat(this.chunks);
    this.chunks = [];
    this.size = 0;
    this.onLine(line);
  }
}

type Id = string | number | null;

/** The id of a JSON-RPC message seen only by its ends: first member (`{"jsonrpc":"2.0","id":7,...`) or last (`...,"id":7}`). */
export function idOfEnds(head: string, tail: string): Id {
  const value = String.raw`(-?\d+|"(?:[^"\\]|\\.)*")`;
  const first = new RegExp(String.raw`^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*` + value).exec(head);
  const last = new RegExp(String.raw`[,{]\s*"id"\s*:\s*` + value + String.raw`\s*\}\s*$`).exec(tail.replace(/\r$/, ""));
  const found = first?.[1] ?? last?.[1];
  return found === undefined ? null : (JSON.parse(found) as string | number);
}

/**
 * MCP over stdin / stdout, one JSON message per line, like the SDK's stdio transport but with a message size
 * limit that matches the server's own (the SDK's 10 MiB buffer closes the transport, and so ends the process,
 * on a larger message). A message over the limit, or one that is not JSON-RPC, is answered with a JSON-RPC error
 * and the server goes on reading.
 */
export class LineStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private readonly splitter: LineSplitter;
  private closed = false;

  constructor(
    private readonly maxMessageBytes: number,
    private readonly input: Readable = process.stdin,
    private readonly output: Writable = process.stdout,
  ) {
    this.splitter = new LineSplitter(maxMessageBytes, (line) => this.received(line), (head, tail, bytes) => this.refuseLarge(head, tail, bytes));
  }

  private readonly onData = (chunk: Buffer) => this.splitter.push(chunk);
  private readonly onEnd = () => void this.close();
  private readonly onError = (error: Error) => this.onerror?.(error);

  async start(): Promise<void> {
    this.input.on("data", this.onData).on("end", this.onEnd).on("error", this.onError);
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve) => {
      if (this.output.write(JSON.stringify(message) + "\n")) resolve();
      else this.output.once("drain", resolve);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.input.off("data", this.onData).off("end", this.onEnd).off("error", this.onError);
    this.input.pause();
    this.onclose?.();
  }

  private received(bytes: Buffer) {
    const line = bytes.toString("utf8").replace(/\r$/, "");
    if (!line.trim()) return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      return this.reply(null, -32700, "BAD_REQUEST: the message is not valid JSON");
    }
    const parsed = JSONRPCMessageSchema.safeParse(json);
    if (!parsed.success) {
      const id = (json as { id?: unknown } | null)?.id;
      return this.reply(typeof id === "string" || typeof id === "number" ? id : null, -32600, "BAD_REQUEST: the message is not a JSON-RPC request, notification or response");
    }
    this.onmessage?.(parsed.data);
  }

  private refuseLarge(head: string, tail: string, bytes: number) {
    const mib = (n: number) => (n / 2 ** 20).toFixed(1);
    this.reply(idOfEnds(head, tail), -32600, `LIMIT_EXCEEDED: the message is ${mib(bytes)} MiB, larger than the ${mib(this.maxMessageBytes)} MiB this server reads (set by --max-base64-mb); pass a large image as image_path instead`);
  }

  private reply(id: Id, code: number, message: string) {
    void this.send({ jsonrpc: "2.0", id, error: { code, message } } as unknown as JSONRPCMessage);
  }
}
