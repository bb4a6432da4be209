import { describe, expect, it } from "vitest";
import { closestConditioning, ObjectMemory } from "../../core/video/memory-bank";
import { roundToBfloat16 } from "../../core/video/memory-tracker";

const entry = (frame: number) => ({ features: Float32Array.of(frame), pointer: Float32Array.of(frame) });

describe("an object's memory bank, selected as SAM 3's tracker selects it", () => {
  it("reads the conditioning frames, then the 6 most recent tracked frames oldest first, and pointers nearest first", () => {
    const bank = new ObjectMemory();
    bank.setConditioning(0, entry(0));
    for (let t = 1; t < 20; t++) bank.setTracked(t, entry(t));
    const s = bank.select(20, false, 48);
    expect(s.memories.map((m) => [m.frame, m.offset])).toEqual([[0, 0], [14, 6], [15, 5], [16, 4], [17, 3], [18, 2], [19, 1]]);
    expect(s.pointers.map((p) => p.frame)).toEqual([0, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5]);
    expect(s.pointers[0].offset).toBe(20);
    expect(s.maxPointerOffset).toBe(15);
  });

  it("in reverse, reads the frames after the current one, and pointers only of conditioning frames at or after it", () => {
    const bank = new ObjectMemory();
    bank.setConditioning(30, entry(30));
    bank.setConditioning(5, entry(5));
    bank.setTracked(29, entry(29));
    const s = bank.select(28, true, 48);
    expect(s.memories.map((m) => [m.frame, m.offset])).toEqual([[30, 0], [5, 0], [29, 1]]);
    expect(s.pointers.map((p) => [p.frame, p.offset])).toEqual([[30, 2], [29, 1]]);
  });

  it("attends to at most 4 conditioning frames, the closest before and after first; the others count as recent frames", () => {
    const conditioning = new Map([0, 10, 20, 30, 40, 50].map((f) => [f, f]));
    const { selected, unselected } = closestConditioning(33, conditioning, 4);
    expect(selected).toEqual([30, 40, 20, 50]);
    expect([...unselected]).toEqual([0, 10]);
  });

  it("stays bounded: tracked frames out of reach of every later frame and of the conditioning frames are dropped", () => {
    const bank = new ObjectMemory();
    bank.setConditioning(0, entry(0));
    for (let t = 1; t < 600; t++) {
      bank.setTracked(t, entry(t));
      bank.prune(t, false);
    }
    expect(bank.size).toBeLessThanOrEqual(1 + 16 + 16);
    expect(bank.has(599)).toBe(true);
    expect(bank.has(5)).toBe(true);
    expect(bank.has(300)).toBe(false);
  });

  it("rounds stored memories to bfloat16, ties to even", () => {
    const v = roundToBfloat16(Float32Array.of(1 + 2 ** -8, 1 + 3 * 2 ** -8, 1.5, -2.75));
    expect(Array.from(v)).toEqual([1, 1 + 2 ** -6, 1.5, -2.75]);
  });
});
