import { parseArgs, type ParseArgsConfig } from "node:util";
import { Sam3Error } from "./errors";

/** A value that starts with a dash but is a number (`-5,10`, `-1`, `-.5`): an option's value, never an option. */
const NEGATIVE_NUMBER = /^-\.?\d/;

/**
 * Reads a command line as node's parseArgs does, but every mistake is one BAD_OPTION line a user can act on:
 * `unknown option --txt (did you mean --text?)`, `--text needs a value`, `--json takes no value`. Values may be
 * negative numbers (`--point -5,10`, `--min-region -1`): each option then checks its own range. `help` names where
 * the options are listed ("sam3 segment --help"), for an unknown option with no near match.
 */
export function readCommandLine<T extends ParseArgsConfig & { args: string[] }>(config: T, help?: string): ReturnType<typeof parseArgs<T>> {
  const options = config.options ?? {};
  // a lenient read keeps every token, so each mistake is named here rather than by parseArgs' own wording
  const { tokens } = parseArgs({ ...config, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens ?? []) {
    if (token.kind === "positional" && !config.allowPositionals) throw new Sam3Error("BAD_OPTION", `unexpected argument "${clip(token.value)}"${help ? ` (see ${help})` : ""}`);
    if (token.kind !== "option") continue;
    const option = options[token.name];
    const raw = clip(token.rawName);
    if (!option) throw new Sam3Error("BAD_OPTION", `unknown option ${raw}${unknownHint(token.name, token.rawName, Object.keys(options), help)}`);
    if (option.type === "boolean" && token.value !== undefined) throw new Sam3Error("BAD_OPTION", `${raw} takes no value`);
    if (option.type === "string" && token.value === undefined) throw new Sam3Error("BAD_OPTION", `${raw} needs a value`);
    if (option.type === "string" && !token.inlineValue && token.value!.length > 1 && token.value!.startsWith("-") && !NEGATIVE_NUMBER.test(token.value!)) {
      throw new Sam3Error("BAD_OPTION", `${raw} needs a value, got the option ${clip(token.value!)} (write ${raw}=${clip(token.value!)} if that is the value)`);
    }
  }
  return parseArgs({ ...config, strict: false }) as ReturnType<typeof parseArgs<T>>;
}

/** A whole-number option from min to max (digits only: no "1e3", "0x10" or empty text), or undefined when not given. */
export function wholeNumberOption(name: string, text: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!(/^-?\d+$/.test(text) && v >= min && v <= max)) {
    throw new Sam3Error("BAD_OPTION", `--${name} must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, got "${clip(text)}"`);
  }
  return v;
}

/** The known option a typo most likely meant: a prefix of it, or one or two edits away (a swap counts once). */
export function nearestOption(name: string, known: readonly string[]): string | undefined {
  const typed = name.toLowerCase();
  const allowed = typed.length <= 4 ? 1 : 2;
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = typed.length >= 2 && candidate.startsWith(typed) ? 0.5 : editDistance(typed, candidate);
    if (distance <= allowed && (!best || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

function unknownHint(name: string, rawName: string, known: string[], help?: string): string {
  const near = rawName.startsWith("--") ? nearestOption(name, known) : undefined;
  if (near) return ` (did you mean --${near}?)`;
  return help ? ` (see ${help})` : "";
}

/** Edits (insert, delete, replace, swap of neighbours) that turn a into b. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** Echoed text stays short: a pasted blob is not repeated back whole. */
const clip = (text: string) => (text.length > 60 ? `${text.slice(0, 57)}...` : text);
