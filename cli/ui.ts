import { parseDevice, readCommandLine } from "../core";
import { startUi } from "../web/server";
import { parseCount, UsageError } from "./args";

export const UI_USAGE = `sam3 ui [--port P] [--host H] [--model DIR|PRESET] [--device D] [--engine URL] [--token T | --no-token] [--allowed-host NAME]...

Serves the interactive page (upload, prompts, clicks, sliders, video tracking, exports) at
http://127.0.0.1:8080/?token=... (open the printed URL; the token then lives in a cookie).
  --token T           the secret the URL carries (default: a new random one each start)
  --no-token          no secret: only on a loopback --host, for a single-user machine
  --allowed-host NAME another Host name to answer to (a reverse proxy's); repeatable
  --engine URL        run the graphs on a Triton server (triton://host:8000), as for segment`;

export async function uiCommand(argv: string[]): Promise<void> {
  const { values } = readCommandLine({
    args: argv,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      model: { type: "string" },
      device: { type: "string" },
      engine: { type: "string" },
      token: { type: "string" },
      "no-token": { type: "boolean" },
      "allowed-host": { type: "string", multiple: true },
    },
  }, "sam3 ui --help");
  if (values["no-token"] && values.token !== undefined) throw new UsageError("--token and --no-token exclude each other");
  const port = parseCount(values.port, "port", 0, 65535) ?? 8080;
  const ui = await startUi({
    port,
    host: values.host,
    model: values.model,
    device: values.device ? parseDevice(values.device) : undefined,
    engine: values.engine,
    token: values["no-token"] ? false : values.token,
    allowedHosts: values["allowed-host"],
  });
  process.stderr.write(`sam3 ui: open ${ui.url}\n`);
  await new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => resolve());
  });
  await ui.close();
}
