import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { helper, modelConfig, TestFlow } from "../support/node-red";
import { REPO } from "../support/reference";

/** The compiled core the nodes run: the editor must say what it says. */
const core = createRequire(join(REPO, "package.json"))(join(REPO, "dist", "core", "index.js")) as typeof import("../../core");

type Validator = (value: unknown, opt?: { label: string }) => true | false | string;
interface EditorWindow {
  SAM3_PROMPTS: typeof core;
  SAM3_ENGINE_URL: Pick<typeof core, "parseEngine">;
  SAM3_EDITOR: { prompt(parse: string): Validator; engine: Validator };
}

/** What a call throws, as the message the user reads. */
const messageOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  return "no error";
};

const BAD = {
  parseBoxList: ["10,10,5,5", "1,2,3,4:foo", "1,2,3", "0,0,1,1; 5,5,x,6", ";".repeat(1000)],
  parsePointList: ["1,2:foo", "1,2,3", "1,,2", "0x10,2"],
  parseBoxText: ["10,10,5,5", "1,2,3,4:neg:pos"],
} as const;

describe("the Node-RED editor checks prompt fields with core's grammar", () => {
  let flow: TestFlow;
  let script: string;
  let window: EditorWindow;

  beforeAll(async () => {
    flow = await TestFlow.load([modelConfig()]);
    const served = await (helper as unknown as { request(): { get(path: string): Promise<{ status: number; type: string; text: string }> } }).request().get("/sam3/prompts.js");
    expect(served.status).toBe(200);
    expect(served.type).toBe("application/javascript");
    script = served.text;
    // the browser runs the served script and then the editor's helpers, as the nodes' .html load them
    window = {} as EditorWindow;
    // with the URL class every browser has (the engine rule reads URLs with it)
    const context = { window, URL };
    runInNewContext(script, context);
    runInNewContext(readFileSync(join(REPO, "resources", "sam3-editor.js"), "utf8"), context);
  });
  afterAll(() => flow?.unload());

  it("is the compiled grammar, with nothing of the server in it", () => {
    expect(script).toBe(core.promptGrammarScript());
    expect(script).not.toContain(REPO);
    expect(script).not.toContain("sourceMappingURL");
  });

  it("gives the same message as core for bad fields", () => {
    for (const [parse, inputs] of Object.entries(BAD)) {
      for (const input of inputs) {
        const expected = messageOf(() => core[parse as keyof typeof BAD](input));
        expect(expected).not.toBe("no error");
        expect(messageOf(() => window.SAM3_PROMPTS[parse as keyof typeof BAD](input))).toBe(expected);
        expect(window.SAM3_EDITOR.prompt(parse)(input, { label: "Boxes" })).toBe(expected);
      }
    }
    expect(window.SAM3_EDITOR.prompt("parseBoxList")("10,10,5,5", { label: "Boxes" })).toBe("box [10,10,5,5] is empty or inverted: need x1 < x2 and y1 < y2");
    expect(window.SAM3_EDITOR.prompt("parsePointList")("1,2:foo", { label: "Points" })).toBe('point "1,2:foo": the only suffixes are :neg (exclude) and :pos (include)');
  });

  it("accepts what core accepts, empty fields and ${ENV} values, and says false to an editor without messages", () => {
    const points = window.SAM3_EDITOR.prompt("parsePointList");
    for (const good of ["80,60; 12,42:neg", "1,2:pos\n3,4", "", "${POINTS}"]) expect(points(good, { label: "Points" })).toBe(true);
    expect(window.SAM3_PROMPTS.parsePointList("80,60; 12,42:neg")).toEqual(core.parsePointList("80,60; 12,42:neg"));
    expect(points("1,2:foo")).toBe(false);
  });

  it("checks the model's Engine with core's URL rule and messages", () => {
    for (const bad of ["ftp://x", "triton://h:8000?foo=1", "triton://user:pw@h:8000", "triton://h:8000?timeout=0", "not a url"]) {
      const expected = messageOf(() => core.parseEngine(bad));
      expect(expected, bad).toMatch(/^engine /);
      expect(window.SAM3_EDITOR.engine(bad, { label: "Engine" })).toBe(expected);
      expect(window.SAM3_EDITOR.engine(bad)).toBe(false);
    }
    for (const good of ["", "local", "triton://h:8000", "https://gateway.example/triton?timeout=30&retries=2", "${SAM3_ENGINE}"]) {
      expect(window.SAM3_EDITOR.engine(good, { label: "Engine" }), good).toBe(true);
    }
    expect(window.SAM3_ENGINE_URL.parseEngine("triton://h:8000?retries=1")).toEqual(core.parseEngine("triton://h:8000?retries=1"));
  });
});
