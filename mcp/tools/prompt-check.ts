import { Sam3Error } from "../../core";

/** Refuses a call with nothing to look for, naming the arguments the tools have (core's own message names a mask, which they do not take). */
export function requirePrompt(args: { text?: unknown; points?: unknown[]; boxes?: unknown[] }, what: string): void {
  if (args.text === undefined && !args.points?.length && !args.boxes?.length) throw new Sam3Error("BAD_PROMPT", `give text, points or boxes: what to ${what}`);
}
