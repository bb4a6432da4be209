import { asSam3Error, type BoxPrompt, LIMITS, parseDevice, type PointPrompt, type Sam3Options } from "../core";

/** A user mistake on the command line: reported as one line with exit code 2. */
export class UsageError extends Error {}

const numbers = (text: string, count: number, what: string, example: string): number[] => {
  const parts = text.split(",").map((s) => Number(s.trim()));
  if (parts.length !== count || parts.some((v) => !Number.isFinite(v))) {
    throw new UsageError(`${what} "${text}" must be ${count} comma-separated numbers, e.g. ${example}`);
  }
  return parts;
};

/** `x,y` or `x,y:neg` in image pixels. */
export function parsePoint(text: string): PointPrompt {
  const [coords, flag] = splitFlag(text);
  const [x, y] = numbers(coords, 2, "point", "120,80 or 120,80:neg");
  return { x, y, positive: !flag };
}

/** `x1,y1,x2,y2` or `x1,y1,x2,y2:neg` in image pixels. */
export function parseBox(text: string): BoxPrompt {
  const [coords, flag] = splitFlag(text);
  const [x1, y1, x2, y2] = numbers(coords, 4, "box", "10,20,200,180 or 10,20,200,180:neg");
  return { box: [x1, y1, x2, y2], positive: !flag };
}

function splitFlag(text: string): [string, boolean] {
  const [coords, flag, extra] = text.split(":");
  if (extra !== undefined || (flag !== undefined && !["neg", "pos"].includes(flag))) {
    throw new UsageError(`"${text}": the only suffixes are :neg (exclude) and :pos (include)`);
  }
  return [coords, flag === "neg"];
}

export function parseUnit(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!(v >= 0 && v <= 1)) throw new UsageError(`--${name} must be a number from 0 to 1, got "${text}"`);
  return v;
}

/** A whole-number option from min to max, or undefined when not given. */
export function parseCount(text: string | undefined, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!(Number.isInteger(v) && v >= min && v <= max)) {
    throw new UsageError(`--${name} must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, got "${text}"`);
  }
  return v;
}

/** --threads: at most LIMITS.threads (more only oversubscribes the cores and eats memory). */
export const parseThreads = (text: string | undefined) => parseCount(text, "threads", 1, LIMITS.threads);

/** The engine options every command takes: --model, --device, --threads; warnings go to stderr. */
export function engineOptions(values: { model?: string; device?: string; threads?: string }): Sam3Options {
  return {
    model: values.model,
    device: values.device ? parseDevice(values.device) : undefined,
    intraOpThreads: parseThreads(values.threads),
    onWarning: (m) => process.stderr.write(`sam3: warning: ${m}\n`),
  };
}

/**
 * One line for the user, never a stack trace: usage mistakes exit 2, everything else 1 as a Sam3Error (file-system
 * failures get their reason without the path; anything unexpected says so). `doing` names the command.
 */
export function describeFailure(e: unknown, doing: string): { message: string; exitCode: number } {
  if (e instanceof UsageError) return { message: oneLine(e.message), exitCode: 2 };
  if (typeof (e as { code?: unknown })?.code === "string" && (e as { code: string }).code.startsWith("ERR_PARSE_ARGS")) return { message: oneLine((e as Error).message), exitCode: 2 };
  const error = asSam3Error(e, doing);
  return { message: oneLine(error.message), exitCode: error.code === "BAD_OPTION" ? 2 : 1 };
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, " ");
