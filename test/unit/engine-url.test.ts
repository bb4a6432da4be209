import { describe, expect, it } from "vitest";
import { Sam3Error } from "../../core/errors";
import { parseEngine } from "../../core/triton/engine-url";
import { tritonModelName } from "../../core/triton/model-names";

const refusal = (text: unknown) => {
  try {
    parseEngine(text);
  } catch (e) {
    expect(e).toBeInstanceOf(Sam3Error);
    expect((e as Sam3Error).code).toBe("BAD_OPTION");
    return (e as Sam3Error).message;
  }
  throw new Error(`${String(text)} was accepted`);
};

describe("the engine option", () => {
  it("is local when empty or 'local'", () => {
    for (const text of [undefined, "", "  ", "local"]) expect(parseEngine(text)).toBeUndefined();
  });

  it("reads a Triton URL: HTTP by default on port 8000, https, a gateway's path, time limit and retries", () => {
    expect(parseEngine("triton://gpu-1")).toEqual({ base: "http://gpu-1:8000", label: "gpu-1:8000", timeoutMs: 120_000, retries: 3 });
    expect(parseEngine("triton://10.0.0.5:9000/")).toMatchObject({ base: "http://10.0.0.5:9000", label: "10.0.0.5:9000" });
    expect(parseEngine("https://infer.example.com/triton/?timeout=2.5&retries=0")).toEqual({
      base: "https://infer.example.com:443/triton",
      label: "infer.example.com:443",
      timeoutMs: 2500,
      retries: 0,
    });
    expect(parseEngine("http://[::1]:8000")!.base).toBe("http://[::1]:8000");
  });

  it("refuses what it cannot use, naming the problem and the form it takes", () => {
    expect(refusal("ftp://host")).toMatch(/scheme ftp: is not supported: give local, or a Triton server's URL such as triton:\/\/host:8000/);
    expect(refusal("gpu-1:8000")).toMatch(/scheme gpu-1: is not supported/);
    expect(refusal("not a url")).toMatch(/is not a URL/);
    expect(refusal("http://user:secret@host")).toMatch(/must not carry a user or password/);
    expect(refusal("http://user:secret@host")).not.toContain("secret");
    expect(refusal("triton://host?foo=1")).toMatch(/option foo is unknown/);
    expect(refusal("triton://host?timeout=0")).toMatch(/timeout must be seconds above 0/);
    expect(refusal("triton://host?timeout=abc")).toMatch(/timeout must be/);
    expect(refusal("triton://host?retries=1.5")).toMatch(/retries must be a whole number from 0 to 10/);
    expect(refusal("triton://host#x")).toMatch(/#fragment/);
    expect(refusal(`triton://${"a".repeat(3000)}`)).toMatch(/is too long/);
    expect(refusal(42)).toMatch(/engine must be a string/);
  });

  it("names each graph's Triton model after the pack and the graph file", () => {
    expect(tritonModelName("sam3-tiny-336", "onnx/tracker_decoder.onnx")).toBe("sam3-tiny-336-tracker_decoder");
    expect(tritonModelName("my pack/v2", "onnx/backbone.onnx")).toBe("my_pack_v2-backbone");
  });
});
