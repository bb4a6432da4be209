import { readFileSync } from "node:fs";

type TokenizersModule = typeof import("@huggingface/tokenizers", { with: { "resolution-mode": "import" } });
// the package ships a CommonJS build, but its type declarations are ESM-only
const { Tokenizer } = require("@huggingface/tokenizers") as TokenizersModule;
type Tokenizer = InstanceType<TokenizersModule["Tokenizer"]>;

export interface EncodedText {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  /** The prompt had more tokens than the context holds and was cut (end-of-text kept last). */
  truncated: boolean;
}

/** CLIP byte-level BPE from a Hugging Face tokenizer.json, padded / truncated to the text encoder's context. */
export class TextTokenizer {
  private readonly tokenizer: Tokenizer;
  private readonly pad: number;

  constructor(tokenizerJsonFile: string, private readonly contextLength: number) {
    const json = JSON.parse(readFileSync(tokenizerJsonFile, "utf8"));
    this.tokenizer = new Tokenizer(json, {});
    // CLIP pads with end-of-text; the attention mask hides the padding either way
    this.pad = this.tokenizer.token_to_id("<|endoftext|>") ?? 0;
  }

  encode(text: string): EncodedText {
    let ids = this.tokenizer.encode(text).ids;
    const truncated = ids.length > this.contextLength;
    if (truncated) ids = [...ids.slice(0, this.contextLength - 1), ids[ids.length - 1]];
    const inputIds = new BigInt64Array(this.contextLength).fill(BigInt(this.pad));
    const attentionMask = new BigInt64Array(this.contextLength);
    ids.forEach((id: number, i: number) => {
      inputIds[i] = BigInt(id);
      attentionMask[i] = 1n;
    });
    return { inputIds, attentionMask, truncated };
  }
}
