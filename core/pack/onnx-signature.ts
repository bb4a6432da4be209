import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { Sam3Error } from "../errors";

/** Input and output tensor names of an ONNX graph, and each one's element type and shape where it declares them. */
export interface OnnxSignature {
  inputs: string[];
  outputs: string[];
  tensors: Record<string, TensorType>;
}

export interface TensorType {
  /** onnxruntime's name of the element type ("float32", "float16", "int64", "bool"...), or "unknown". */
  type: string;
  /** Each dimension's size, or its symbolic name (a dynamic axis); absent when the graph declares no shape. */
  dims?: (number | string)[];
}

/** onnx.proto TensorProto.DataType -> onnxruntime's type names. */
const ELEMENT_TYPES: Record<number, string> = {
  1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string", 9: "bool",
  10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 16: "bfloat16",
};

// protobuf field numbers (onnx.proto)
const MODEL_GRAPH = 7; // ModelProto.graph
const GRAPH = { node: 1, initializer: 5, input: 11, output: 12, sparseInitializer: 15 };
const NODE_ATTRIBUTE = 5;
const ATTRIBUTE = { tensor: 5, graph: 6, tensors: 10, graphs: 11, sparseTensor: 22, sparseTensors: 23 };
const SPARSE = { values: 1, indices: 2 };
const TENSOR_EXTERNAL_DATA = 13;
const ENTRY = { key: 1, value: 2 };
const VALUE_INFO = { name: 1, type: 2 };
const TYPE_TENSOR = 1; // TypeProto.tensor_type
const TENSOR_TYPE = { elemType: 1, shape: 2 };
const SHAPE_DIM = 1;
const DIM = { value: 1, param: 2 };
/** Tensor names and external file names are short; a longer one is not read into memory. */
const MAX_TEXT_BYTES = 4096;
/** Graphs nest inside node attributes (If, Loop, Scan); deeper than this is no real model. */
const MAX_DEPTH = 32;

/**
 * Reads a graph's tensor names by walking the protobuf headers with positional reads, skipping the weights,
 * so a pack can be checked at open time without loading multi-GB graphs or creating sessions.
 */
export function readOnnxSignature(file: string): OnnxSignature {
  const inputs: string[] = [];
  const outputs: string[] = [];
  const tensors: Record<string, TensorType> = {};
  withGraph(file, (reader, graph) => {
    forEachField(reader, graph.start, graph.end, (field, start, end) => {
      if (field !== GRAPH.input && field !== GRAPH.output) return;
      const name = findField(reader, start, end, VALUE_INFO.name);
      if (!name) return;
      const text = reader.text(name.start, name.end);
      (field === GRAPH.input ? inputs : outputs).push(text);
      tensors[text] = tensorType(reader, findField(reader, start, end, VALUE_INFO.type));
    });
    return [];
  });
  return { inputs, outputs, tensors };
}

function tensorType(reader: FileReader, type: { start: number; end: number } | undefined): TensorType {
  const tensor = type && findField(reader, type.start, type.end, TYPE_TENSOR);
  if (!tensor) return { type: "unknown" };
  const elem = findVarint(reader, tensor.start, tensor.end, TENSOR_TYPE.elemType);
  const shape = findField(reader, tensor.start, tensor.end, TENSOR_TYPE.shape);
  const result: TensorType = { type: (elem !== undefined && ELEMENT_TYPES[elem]) || "unknown" };
  if (shape) {
    const dims: (number | string)[] = [];
    forEachField(reader, shape.start, shape.end, (field, s, e) => {
      if (field !== SHAPE_DIM) return;
      const param = findField(reader, s, e, DIM.param);
      dims.push(findVarint(reader, s, e, DIM.value) ?? (param ? reader.text(param.start, param.end) : "?"));
    });
    result.dims = dims;
  }
  return result;
}

/**
 * The external weight files a graph's tensors name (their `location`, relative to the graph's folder), from
 * the initializers, constants and subgraphs: onnxruntime would open each of them.
 */
export function readExternalDataFiles(file: string): string[] {
  const all = withGraph(file, (reader, graph) => {
    const found = new Set<string>();
    const tensor = (start: number, end: number) =>
      forEachField(reader, start, end, (field, s, e) => {
        if (field !== TENSOR_EXTERNAL_DATA) return;
        const key = findField(reader, s, e, ENTRY.key);
        const value = findField(reader, s, e, ENTRY.value);
        if (key && value && reader.text(key.start, key.end) === "location") found.add(reader.text(value.start, value.end));
      });
    const sparse = (start: number, end: number) =>
      forEachField(reader, start, end, (field, s, e) => {
        if (field === SPARSE.values || field === SPARSE.indices) tensor(s, e);
      });
    const walkGraph = (start: number, end: number, depth: number): void => {
      if (depth > MAX_DEPTH) throw invalid("subgraphs nest too deep");
      forEachField(reader, start, end, (field, s, e) => {
        if (field === GRAPH.initializer) tensor(s, e);
        else if (field === GRAPH.sparseInitializer) sparse(s, e);
        else if (field === GRAPH.node) {
          forEachField(reader, s, e, (f, as, ae) => {
            if (f === NODE_ATTRIBUTE) attribute(as, ae, depth);
          });
        }
      });
    };
    const attribute = (start: number, end: number, depth: number) =>
      forEachField(reader, start, end, (field, s, e) => {
        if (field === ATTRIBUTE.tensor || field === ATTRIBUTE.tensors) tensor(s, e);
        else if (field === ATTRIBUTE.sparseTensor || field === ATTRIBUTE.sparseTensors) sparse(s, e);
        else if (field === ATTRIBUTE.graph || field === ATTRIBUTE.graphs) walkGraph(s, e, depth + 1);
      });
    walkGraph(graph.start, graph.end, 0);
    return [...found];
  });
  return [...new Set(all)];
}

/**
 * Runs `read` on every graph field of the model: protobuf merges repeated occurrences of a message field, so
 * onnxruntime sees them all as one graph and a check must too.
 */
function withGraph<T>(file: string, read: (reader: FileReader, graph: { start: number; end: number }) => T[]): T[] {
  const fd = openSync(file, "r");
  try {
    const reader = new FileReader(fd);
    const graphs: { start: number; end: number }[] = [];
    forEachField(reader, 0, reader.size, (field, start, end) => {
      if (field === MODEL_GRAPH) graphs.push({ start, end });
    });
    if (graphs.length === 0) throw invalid("no graph in the model file");
    return graphs.flatMap((graph) => read(reader, graph));
  } finally {
    closeSync(fd);
  }
}

const invalid = (reason: string) => new Sam3Error("PACK_INVALID", reason);

function findField(reader: FileReader, start: number, end: number, wanted: number) {
  let found: { start: number; end: number } | undefined;
  forEachField(reader, start, end, (field, s, e) => {
    if (field === wanted && !found) found = { start: s, end: e };
  });
  return found;
}

/** The first varint field `wanted` in [start, end). */
function findVarint(reader: FileReader, start: number, end: number, wanted: number): number | undefined {
  let found: number | undefined;
  forEachField(reader, start, end, () => undefined, (field, value) => {
    if (field === wanted && found === undefined) found = value;
  });
  return found;
}

/** Calls visit for every length-delimited field in [start, end), visitVarint for every varint; the rest are skipped. */
function forEachField(
  reader: FileReader,
  start: number,
  end: number,
  visit: (field: number, start: number, end: number) => void,
  visitVarint?: (field: number, value: number) => void,
) {
  let pos = start;
  while (pos < end) {
    const [key, afterKey] = reader.varint(pos);
    const field = Math.floor(key / 8);
    switch (key & 7) {
      case 0: {
        const [value, next] = reader.varint(afterKey);
        visitVarint?.(field, value);
        pos = next;
        break;
      }
      case 1:
        pos = afterKey + 8;
        break;
      case 5:
        pos = afterKey + 4;
        break;
      case 2: {
        const [length, body] = reader.varint(afterKey);
        // checked before the visit: a length past its message would make the visit read outside it
        if (body + length > end) throw invalid("truncated ONNX file");
        visit(field, body, body + length);
        pos = body + length;
        break;
      }
      default:
        throw invalid(`not an ONNX protobuf (wire type ${key & 7} at byte ${pos})`);
    }
    if (pos > end) throw invalid("truncated ONNX file");
  }
}

/** Random access to a file through a small window, so headers of huge files cost a few reads. */
class FileReader {
  private window = Buffer.alloc(1 << 16);
  private windowStart = 0;
  private windowLength = 0;
  readonly size: number;

  constructor(private readonly fd: number) {
    this.size = fstatSync(fd).size;
  }

  byte(pos: number): number {
    if (pos < this.windowStart || pos >= this.windowStart + this.windowLength) {
      this.windowStart = pos;
      this.windowLength = readSync(this.fd, this.window, 0, this.window.length, pos);
      if (this.windowLength === 0) throw invalid("truncated ONNX file");
    }
    return this.window[pos - this.windowStart];
  }

  varint(pos: number): [number, number] {
    let value = 0;
    let scale = 1;
    // a 64-bit varint has at most 10 bytes
    for (let i = 0; i < 10; i++) {
      const b = this.byte(pos++);
      value += (b & 0x7f) * scale;
      if (b < 0x80) return [value, pos];
      scale *= 128;
    }
    throw invalid("not an ONNX protobuf (a number runs past 10 bytes)");
  }

  text(start: number, end: number): string {
    if (end - start > MAX_TEXT_BYTES) throw invalid("not an ONNX graph (a name is longer than 4 kB)");
    const bytes = Buffer.alloc(end - start);
    if (readSync(this.fd, bytes, 0, bytes.length, start) < bytes.length) throw invalid("truncated ONNX file");
    return bytes.toString("utf8");
  }
}
