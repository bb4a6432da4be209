import { readFileSync, symlinkSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EXAMPLE_MEDIA_DIR, examplePath } from "../../core/example-media";
import { maskCoverage } from "../../core/masks/coverage";
import type { Mask } from "../../core/masks/mask";
import { SCENE } from "../support/reference";

/** A W x H mask with the rectangle [x1, x2) x [y1, y2) set. */
function rect(w: number, h: number, [x1, y1, x2, y2]: number[]): Mask {
  const data = new Uint8Array(w * h);
  for (let y = y1; y < y2; y++) data.fill(1, y * w + x1, y * w + x2);
  return { width: w, height: h, data };
}

describe("the area a set of masks covers", () => {
  it("counts overlapping pixels once", () => {
    // 40 + 40 pixels, 20 of them shared: 60 of the 100
    const masks = [rect(10, 10, [0, 0, 4, 10]), rect(10, 10, [2, 0, 6, 10])];
    expect(maskCoverage(masks, 10, 10)).toEqual({ area: 60, fraction: 0.6 });
    // the same mask sixteen times covers what it covers once, where a sum would be 16 frames
    expect(maskCoverage(Array.from({ length: 16 }, () => rect(10, 10, [0, 0, 10, 10])), 10, 10)).toEqual({ area: 100, fraction: 1 });
    expect(maskCoverage([], 4, 3)).toEqual({ area: 0, fraction: 0 });
  });

  it("refuses a mask of another size and an empty image", () => {
    expect(() => maskCoverage([rect(10, 10, [0, 0, 1, 1])], 10, 11)).toThrow(/a mask of 10x10 does not fit the 10x11 image/);
    expect(() => maskCoverage([], 0, 10)).toThrow(/at least one pixel/);
  });
});

describe("sam3-example: paths", () => {
  it("name the demo files the package ships, wherever it is installed", () => {
    expect(readFileSync(examplePath("sam3-example:scene.png")!).equals(readFileSync(SCENE))).toBe(true);
    expect(examplePath("sam3-example:shapes.mp4")).toBe(join(EXAMPLE_MEDIA_DIR, "shapes.mp4"));
    // any other text is an ordinary path, left as it is
    expect(examplePath("/data/clip.mp4")).toBeUndefined();
    expect(examplePath("examples/shapes.mp4")).toBeUndefined();
  });

  it("lead nowhere outside the examples folder, and say so in the same words whatever the reason", () => {
    const link = join(EXAMPLE_MEDIA_DIR, "zz-link-out.png");
    symlinkSync("/etc/hostname", link);
    try {
      const refusals = ["sam3-example:../package.json", "sam3-example:/etc/hostname", "sam3-example:zz-link-out.png", "sam3-example:nope.png", "sam3-example:", "sam3-example:."].map((p) => {
        try {
          examplePath(p);
          return "read";
        } catch (e) {
          return `${(e as { code: string }).code}: ${(e as Error).message.replace(p, "<path>")}`;
        }
      });
      expect(new Set(refusals)).toEqual(new Set(["PATH_NOT_ALLOWED: <path> is not one of the package's example files (sam3-example:scene.png, sam3-example:shapes.mp4)"]));
    } finally {
      unlinkSync(link);
    }
  });
});
