import { parseArgs } from "node:util";
import { parseDevice } from "../core/runtime/devices";
import { startUi } from "../web/server";
import { parseCount } from "./args";

export const UI_USAGE = `sam3 ui [--port P] [--host H] [--model DIR|PRESET] [--device D]

Serves the interactive page (upload, prompts, clicks, sliders, video tracking, exports) at http://127.0.0.1:8080/.`;

export async function uiCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { port: { type: "string" }, host: { type: "string" }, model: { type: "string" }, device: { type: "string" } } });
  const ui = await startUi({ port: parseCount(values.port, "port") ?? 8080, host: values.host, model: values.model, device: values.device ? parseDevice(values.device) : undefined });
  process.stderr.write(`sam3 ui: open ${ui.url}\n`);
  await new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => resolve());
  });
  await ui.close();
}
