import { readFileSync, statSync } from "node:fs";
import { Sam3Error } from "../errors";

type TokenizersModule = typeof import("@huggingface/tokenizers", { with: { "resolution-mode": "import" } });
// the package ships a CommonJS build, but its type declarations are ESM-only
const { Tokenizer } = require("@huggingface/tokenizers") as TokenizersModule;
type Tokenizer = InstanceType<TokenizersModule["Tokenizer"]>;

/** CLIP's tokenizer.json is about 4 MB; a file this large is refused before it is read. */
const MAX_TOKENIZER_BYTES = 64 << 20;

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

  /** Failures are PACK_INVALID and never quote the file: it may be anything the manifest pointed at. */
  constructor(tokenizerJsonFile: string, private readonly contextLength: number) {
    const json = readTokenizerJson(tokenizerJsonFile);
    try {
      this.tokenizer = new Tokenizer(json, {});
    } catch (e) {
      throw tokenizerError("is not a tokenizer.json that can be loaded", e);
    }
    // CLIP pads with end-of-text; the attention mask hides the padding either way
    this.pad = this.tokenizer.token_to_id("<|endoftext|>") ?? 0;
  }

  encode(text: string): EncodedText {
    let ids: number[];
    try {
      ids = this.tokenizer.encode(text).ids;
    } catch (e) {
      throw tokenizerError("cannot encode text", e);
    }
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

function readTokenizerJson(file: string): object {
  let text: string;
  try {
    const stats = statSync(file);
    if (!stats.isFile()) throw tokenizerError("is not a regular file");
    if (stats.size > MAX_TOKENIZER_BYTES) throw tokenizerError(`is over ${MAX_TOKENIZER_BYTES >> 20} MiB, which is no tokenizer`);
    text = readFileSync(file, "utf8");
  } catch (e) {
    if (e instanceof Sam3Error) throw e;
    throw tokenizerError(`cannot be read (${(e as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw tokenizerError("is not valid JSON");
  }
  const model = (json as { model?: { vocab?: unknown; merges?: unknown } } | null)?.model;
  if (typeof json !== "object" || json === null || Array.isArray(json) || typeof model?.vocab !== "object" || !Array.isArray(model.merges)) {
    throw tokenizerError("is not a byte-level BPE tokenizer.json (no model.vocab and model.merges)");
  }
  return json;
}

const tokenizerError = (why: string, cause?: unknown) =>
  new Sam3Error("PACK_INVALID", `the model pack's tokenizer file ${why}: restore the pack's tokenizer.json`, { cause });
