import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TextTokenizer } from "../../core/text/tokenizer";
import { REPO } from "../support/reference";

const cases: { text: string; input_ids: number[]; attention_mask: number[] }[] = JSON.parse(
  readFileSync(join(REPO, "test", "reference", "tokenizer_reference.json"), "utf8"),
);

describe("CLIP tokenizer", () => {
  const tokenizer = new TextTokenizer(join(REPO, "models", "sam3-tiny-336", "tokenizer.json"), 32);

  it("has all 13 reference strings", () => expect(cases).toHaveLength(13));

  it.each(cases.map((c) => [JSON.stringify(c.text).slice(0, 40), c] as const))("encodes %s as the reference does", (_, c) => {
    const encoded = tokenizer.encode(c.text);
    expect(Array.from(encoded.inputIds, Number)).toEqual(c.input_ids);
    expect(Array.from(encoded.attentionMask, Number)).toEqual(c.attention_mask);
  });

  it("reports truncation only for prompts over the context", () => {
    expect(tokenizer.encode("x".repeat(200)).truncated).toBe(true);
    expect(tokenizer.encode("red car").truncated).toBe(false);
  });
});
