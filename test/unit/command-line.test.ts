import { describe, expect, it } from "vitest";
import { nearestOption, readCommandLine, wholeNumberOption } from "../../core/command-line";
import { Sam3Error } from "../../core/errors";

const OPTIONS = {
  text: { type: "string" },
  point: { type: "string", multiple: true },
  threshold: { type: "string" },
  "min-region": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const read = (args: string[], allowPositionals = true) => readCommandLine({ args, allowPositionals, options: OPTIONS }, "sam3 segment --help");

/** The BAD_OPTION message a command line is refused with. */
function refusal(args: string[], allowPositionals = true): string {
  try {
    read(args, allowPositionals);
  } catch (e) {
    expect(e).toBeInstanceOf(Sam3Error);
    expect((e as Sam3Error).code).toBe("BAD_OPTION");
    return (e as Error).message;
  }
  throw new Error(`${args.join(" ")} was accepted`);
}

describe("readCommandLine", () => {
  it("reads values, repeated options, booleans, short aliases and positionals as parseArgs does", () => {
    const { values, positionals } = read(["a.png", "--text", "red car", "--point", "1,2", "--point=3,4", "--json", "-h"]);
    expect(values).toEqual({ text: "red car", point: ["1,2", "3,4"], json: true, help: true });
    expect(positionals).toEqual(["a.png"]);
  });

  it("takes negative numbers as values, not as options", () => {
    const { values } = read(["--point", "-5,10", "--point", "-.5,-2:neg", "--min-region", "-1", "--threshold", "-0.25"]);
    expect(values).toEqual({ point: ["-5,10", "-.5,-2:neg"], "min-region": "-1", threshold: "-0.25" });
  });

  it("names an unknown option with the one it most likely meant", () => {
    expect(refusal(["--txt", "cat"])).toBe("unknown option --txt (did you mean --text?)");
    expect(refusal(["--treshold", "0.1"])).toBe("unknown option --treshold (did you mean --threshold?)");
    expect(refusal(["--thresh", "0.1"])).toBe("unknown option --thresh (did you mean --threshold?)");
    expect(refusal(["--min_region", "3"])).toBe("unknown option --min_region (did you mean --min-region?)");
    expect(refusal(["--Json"])).toBe("unknown option --Json (did you mean --json?)");
  });

  it("points to the help when nothing is near, and for an unknown short option", () => {
    expect(refusal(["--bogus"])).toBe("unknown option --bogus (see sam3 segment --help)");
    expect(refusal(["-x"])).toBe("unknown option -x (see sam3 segment --help)");
  });

  it("says which option lacks its value, and which boolean was given one", () => {
    expect(refusal(["a.png", "--text"])).toBe("--text needs a value");
    expect(refusal(["--text", "--json"])).toBe("--text needs a value, got the option --json (write --text=--json if that is the value)");
    expect(refusal(["--json=yes"])).toBe("--json takes no value");
    // written with = the value may be anything
    expect(read(["--text=--json"]).values.text).toBe("--json");
  });

  it("refuses positionals a command does not take", () => {
    expect(refusal(["stray"], false)).toBe('unexpected argument "stray" (see sam3 segment --help)');
    expect(read(["--", "--text"]).positionals).toEqual(["--text"]);
  });

  it("never echoes a pasted blob whole", () => {
    const message = refusal([`--${"x".repeat(5000)}`]);
    expect(message.length).toBeLessThan(120);
  });
});

describe("nearestOption", () => {
  it("finds a prefix, one edit or a swap for short names, up to two edits for longer ones, and nothing farther", () => {
    const known = ["text", "threshold", "threads", "port", "point", "max-pixels"];
    expect(nearestOption("prot", known)).toBe("port");
    expect(nearestOption("max-pixel", known)).toBe("max-pixels");
    expect(nearestOption("thread", known)).toBe("threads");
    expect(nearestOption("zzz", known)).toBeUndefined();
    expect(nearestOption("t", known)).toBeUndefined();
  });
});

describe("wholeNumberOption", () => {
  it("reads digits within the bounds and refuses anything else by name", () => {
    expect(wholeNumberOption("port", "8080", 0, 65535)).toBe(8080);
    expect(wholeNumberOption("port", undefined, 0, 65535)).toBeUndefined();
    for (const bad of ["abc", "", " ", "1e3", "0x10", "1.5", "70000"]) {
      expect(() => wholeNumberOption("port", bad, 0, 65535)).toThrow(`--port must be a whole number from 0 to 65535, got "${bad}"`);
    }
    expect(() => wholeNumberOption("min-region", "-1")).toThrow('--min-region must be a whole number >= 0, got "-1"');
  });
});
