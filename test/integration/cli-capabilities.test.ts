import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { cli, stderrLines } from "../support/cli";
import { NO_TEXT, trackerOnlyPack } from "../support/tracker-pack";

const pack = trackerOnlyPack();
afterAll(() => rmSync(pack, { recursive: true, force: true }));

describe("sam3 on a pack that can only track", () => {
  it.each([
    ["segment", "examples/scene.png"],
    ["track", "examples/shapes.mp4"],
  ])("%s --text: MISSING_CAPABILITY in one line, exit status 1, nothing on stdout", async (command, media) => {
    const run = await cli(command, media, "--text", "dog", "--model", pack, "--json");
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toBe("");
    expect(stderrLines(run)).toHaveLength(1);
    expect(run.stderr).toMatch(new RegExp(`^sam3: error: ${NO_TEXT.source}.*; the preset \\S+ has it\\n$`));
  });
});
