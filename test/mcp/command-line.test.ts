import { describe, expect, it } from "vitest";
import { runMcpToExit } from "../support/mcp";

/** sam3-mcp started with a command line it cannot serve: one `sam3-mcp: error:` line naming the problem, exit 2. */
describe("sam3-mcp command-line mistakes", () => {
  it.each([
    [["--prot", "3333"], "unknown option --prot (did you mean --port?)"],
    [["--max-job", "2"], "unknown option --max-job (did you mean --max-jobs?)"],
    [["--bogus"], "unknown option --bogus (see sam3-mcp --help)"],
    [["--port"], "--port needs a value"],
    [["--http", "--port", "abc"], '--port must be a whole number from 0 to 65535, got "abc"'],
    [["--threads", "-1"], '--threads must be a whole number from 1 to 256, got "-1"'],
    [["--root", "/nonexistent-sam3-root"], "the allowed folder /nonexistent-sam3-root does not exist"],
    [["stray"], 'unexpected argument "stray" (see sam3-mcp --help)'],
  ])("%j", async (args, message) => {
    const { code, stderr } = await runMcpToExit(args);
    expect(code).toBe(2);
    expect(stderr).toBe(`sam3-mcp: error: ${message}\n`);
  });

  it("a --model it cannot open stops the start, not the first tool call", async () => {
    const { code, stderr } = await runMcpToExit(["--model", "no-such-pack"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^sam3-mcp: error: --model no-such-pack cannot be opened: UNKNOWN_PRESET: "no-such-pack" is neither a model pack folder nor a known preset [^\n]*\n$/);
  });
});
