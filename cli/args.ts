import { asSam3Error, LIMITS, parseBoxText, parseDevice, parseEngine, parsePointText, PromptSyntaxError, type Sam3Options, wholeNumberOption } from "../core";

/** A user mistake on the command line: reported as one line with exit code 2. */
export class UsageError extends Error {}

/**
 * A flag's text read by core's prompt grammar: text that cannot be read is a usage mistake (exit 2); a box that
 * reads but is inverted stays a BAD_PROMPT (exit 1), as any prompt core refuses.
 */
export function usagePrompt<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (e) {
      if (e instanceof PromptSyntaxError) throw new UsageError(e.message);
      throw e;
    }
  };
}

/** `x,y` or `x,y:neg` in image pixels. */
export const parsePoint = usagePrompt(parsePointText);

/** `x1,y1,x2,y2` or `x1,y1,x2,y2:neg` in image pixels. */
export const parseBox = usagePrompt(parseBoxText);

export function parseUnit(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!(v >= 0 && v <= 1)) throw new UsageError(`--${name} must be a number from 0 to 1, got "${text}"`);
  return v;
}

/** A whole-number option from min to max, or undefined when not given. */
export const parseCount = (text: string | undefined, name: string, min = 0, max = Number.MAX_SAFE_INTEGER) => wholeNumberOption(name, text, min, max);

/** --threads: at most LIMITS.threads (more only oversubscribes the cores and eats memory). */
export const parseThreads = (text: string | undefined) => parseCount(text, "threads", 1, LIMITS.threads);

/** The engine options segment and track take, as parseArgs declares them. */
export const ENGINE_FLAGS = {
  model: { type: "string" },
  device: { type: "string" },
  engine: { type: "string" },
  threads: { type: "string" },
  "max-pixels": { type: "string" },
} as const;

/** The engine options every command takes: --model, --device, --engine, --threads, --max-pixels; warnings go to stderr. */
export function engineOptions(values: { model?: string; device?: string; engine?: string; threads?: string; "max-pixels"?: string }): Sam3Options {
  return {
    model: values.model,
    device: values.device ? parseDevice(values.device) : undefined,
    engine: engineUrl(values.engine),
    intraOpThreads: parseThreads(values.threads),
    maxPixels: parseCount(values["max-pixels"], "max-pixels", 1),
    onWarning: (m) => process.stderr.write(`sam3: warning: ${m}\n`),
  };
}

/** --engine: checked now (a bad URL is a usage mistake before anything loads), passed on as given. */
export function engineUrl(text: string | undefined): string | undefined {
  parseEngine(text);
  return text;
}

/**
 * One line for the user, never a stack trace: usage mistakes exit 2, everything else 1 as a Sam3Error (file-system
 * failures get their reason without the path; anything unexpected says so). `doing` names the command.
 */
export function describeFailure(e: unknown, doing: string): { message: string; exitCode: number } {
  if (e instanceof UsageError) return { message: oneLine(e.message), exitCode: 2 };
  const error = asSam3Error(e, doing);
  return { message: oneLine(error.message), exitCode: error.code === "BAD_OPTION" ? 2 : 1 };
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, " ");
