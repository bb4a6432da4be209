import { emptyMask, type Mask } from "../../core/masks/mask";

/** Deterministic PRNG (mulberry32) so a failing random case reproduces. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A mask drawn as text rows: '#' set, anything else clear. */
export function maskFromRows(rows: string[]): Mask {
  const mask = emptyMask(rows[0].length, rows.length);
  rows.forEach((row, y) => [...row].forEach((c, x) => (mask.data[y * mask.width + x] = c === "#" ? 1 : 0)));
  return mask;
}
