import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/** Input and output tensor names of an ONNX graph. */
export interface OnnxSignature {
  inputs: string[];
  outputs: string[];
}

// protobuf field numbers (onnx.proto): ModelProto.graph, GraphProto.input / output, ValueInfoProto.name
const MODEL_GRAPH = 7;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const VALUE_INFO_NAME = 1;

/**
 * Reads a graph's tensor names by walking the protobuf headers with positional reads, skipping the weights,
 * so a pack can be checked at open time without loading multi-GB graphs or creating sessions.
 */
export function readOnnxSignature(file: string): OnnxSignature {
  const fd = openSync(file, "r");
  try {
    const reader = new FileReader(fd);
    const graph = findField(reader, 0, reader.size(), MODEL_GRAPH);
    if (!graph) throw new Error("no graph in the model file");
    const inputs: string[] = [];
    const outputs: string[] = [];
    forEachField(reader, graph.start, graph.end, (field, start, end) => {
      if (field !== GRAPH_INPUT && field !== GRAPH_OUTPUT) return;
      const name = findField(reader, start, end, VALUE_INFO_NAME);
      if (name) (field === GRAPH_INPUT ? inputs : outputs).push(reader.text(name.start, name.end));
    });
    return { inputs, outputs };
  } finally {
    closeSync(fd);
  }
}

function findField(reader: FileReader, start: number, end: number, wanted: number) {
  let found: { start: number; end: number } | undefined;
  forEachField(reader, start, end, (field, s, e) => {
    if (field === wanted && !found) found = { start: s, end: e };
  });
  return found;
}

/** Calls visit for every length-delimited field in [start, end); other wire types are skipped. */
function forEachField(reader: FileReader, start: number, end: number, visit: (field: number, start: number, end: number) => void) {
  let pos = start;
  while (pos < end) {
    const [key, afterKey] = reader.varint(pos);
    const field = Math.floor(key / 8);
    switch (key & 7) {
      case 0:
        pos = reader.varint(afterKey)[1];
        break;
      case 1:
        pos = afterKey + 8;
        break;
      case 5:
        pos = afterKey + 4;
        break;
      case 2: {
        const [length, body] = reader.varint(afterKey);
        visit(field, body, body + length);
        pos = body + length;
        break;
      }
      default:
        throw new Error(`not an ONNX protobuf (wire type ${key & 7} at byte ${pos})`);
    }
    if (pos > end) throw new Error("truncated ONNX file");
  }
}

/** Random access to a file through a small window, so headers of huge files cost a few reads. */
class FileReader {
  private window = Buffer.alloc(1 << 16);
  private windowStart = 0;
  private windowLength = 0;
  constructor(private readonly fd: number) {}

  size(): number {
    return fstatSync(this.fd).size;
  }

  byte(pos: number): number {
    if (pos < this.windowStart || pos >= this.windowStart + this.windowLength) {
      this.windowStart = pos;
      this.windowLength = readSync(this.fd, this.window, 0, this.window.length, pos);
      if (this.windowLength === 0) throw new Error("truncated ONNX file");
    }
    return this.window[pos - this.windowStart];
  }

  varint(pos: number): [number, number] {
    let value = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte(pos++);
      value += (b & 0x7f) * scale;
      if (b < 0x80) return [value, pos];
      scale *= 128;
    }
  }

  text(start: number, end: number): string {
    const bytes = Buffer.alloc(end - start);
    readSync(this.fd, bytes, 0, bytes.length, start);
    return bytes.toString("utf8");
  }
}
