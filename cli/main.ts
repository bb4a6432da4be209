#!/usr/bin/env node
import { describeFailure } from "./args";
import { DEMO_USAGE, demoCommand } from "./demo";
import { GPU_USAGE, gpuCommand } from "./gpu";
import { MODELS_USAGE, modelsCommand } from "./models";
import { SEGMENT_USAGE, segmentCommand } from "./segment";
import { TRACK_USAGE, trackCommand } from "./track";
import { UI_USAGE, uiCommand } from "./ui";

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<void>; usage: string }> = {
  segment: { run: segmentCommand, usage: SEGMENT_USAGE },
  track: { run: trackCommand, usage: TRACK_USAGE },
  models: { run: modelsCommand, usage: MODELS_USAGE },
  ui: { run: uiCommand, usage: UI_USAGE },
  demo: { run: demoCommand, usage: DEMO_USAGE },
  gpu: { run: gpuCommand, usage: GPU_USAGE },
};

const HELP = `sam3 - SAM 3 segmentation from the command line

${Object.values(COMMANDS).map((c) => c.usage).join("\n\n")}`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(HELP + "\n");
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`sam3: error: unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(", ")}; see sam3 --help)\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(command.usage + "\n");
    return 0;
  }
  try {
    await command.run(rest);
    return 0;
  } catch (e) {
    return fail(e, name);
  }
}

function fail(e: unknown, doing: string): number {
  const { message, exitCode } = describeFailure(e, doing);
  process.stderr.write(`sam3: error: ${message}\n`);
  return exitCode;
}

// a failure outside the command's own awaits (a stream's error event) is still one line, never a stack trace
for (const event of ["uncaughtException", "unhandledRejection"] as const) {
  process.on(event, (e: unknown) => process.exit(fail(e, "sam3")));
}

// a reader that stops early (`sam3 ... | head`) is not an error
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code !== "EPIPE") throw e;
  process.exit(process.exitCode ?? 0);
});

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
