import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import type { JobOptions } from "../job-limiter";

/** What the SDK gives a tool handler to talk back: its cancellation signal, the call's progress token, notifications. */
export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Queue places are sent when a call joins the queue, then at most this often (every release moves every waiter). */
const QUEUE_REPORT_MS = 1000;

/** How a tool call waits for the model: cancelled with the call, its queue place sent as progress when asked. */
export function jobOptions({ signal, _meta, sendNotification }: ToolExtra): JobOptions {
  const token = _meta?.progressToken;
  if (token === undefined) return { signal };
  let first: number | undefined;
  let sentAt = 0;
  return {
    signal,
    onQueued: (position) => {
      if (first !== undefined && Date.now() - sentAt < QUEUE_REPORT_MS) return;
      first ??= position;
      sentAt = Date.now();
      const message = `waiting for the model: number ${position} in the queue`;
      sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: first - position, message } }).catch(() => undefined);
    },
  };
}
