import type { JobOptions } from "../job-limiter";

/** What a tool handler is given to talk back: its cancellation signal and a way to notify progress. */
export interface ToolExtra {
  signal: AbortSignal;
  _meta?: { progressToken?: string | number };
  sendNotification: (notification: { method: "notifications/progress"; params: { progressToken: string | number; progress: number; total?: number; message?: string } }) => Promise<void>;
}

/** Queue places are sent when a call joins the queue, then at most this often (every release moves every waiter). */
const QUEUE_REPORT_MS = 1000;

/** How a tool call waits for the model: cancelled with the call, its queue place sent as progress when asked. */
export function jobOptions(extra: unknown): JobOptions {
  const { signal, _meta, sendNotification } = extra as ToolExtra;
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
