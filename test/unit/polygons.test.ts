import { describe, expect, it } from "vitest";
import { seededRandom, maskFromRows } from "../support/masks";
import { Mask, emptyMask, maskArea } from "../../core/masks/mask";
import { Point, Polygon, maskToPolygons, polygonArea } from "../../core/export/polygons";

/** Random discs and squares, with random holes punched in: blobs with holes, islands and diagonal contacts. */
function randomBlobs(width: number, height: number, random: () => number): Mask {
  const mask = emptyMask(width, height);
  const paint = (value: number) => {
    const cx = random() * width, cy = random() * height, r = 1 + random() * 6, round = random() < 0.5;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
        const inside = round ? dx * dx + dy * dy < r * r : Math.abs(dx) < r && Math.abs(dy) < r;
        if (inside) mask.data[y * width + x] = value;
      }
    }
  };
  for (let k = 0; k < 6; k++) paint(1);
  for (let k = 0; k < 4; k++) paint(0);
  return mask;
}

function randomNoise(width: number, height: number, density: number, random: () => number): Mask {
  const mask = emptyMask(width, height);
  for (let i = 0; i < mask.data.length; i++) mask.data[i] = random() < density ? 1 : 0;
  return mask;
}

/** Even-odd point-in-polygon at every pixel centre, over all rings. */
function rasterise(polygons: Polygon[], width: number, height: number): Mask {
  const rings = polygons.flatMap((p) => [p.outer, ...p.holes]);
  const mask = emptyMask(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const px = x + 0.5, py = y + 0.5;
      let inside = false;
      for (const ring of rings) {
        for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
          const [xi, yi] = ring[i], [xj, yj] = ring[j];
          if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
        }
      }
      mask.data[y * width + x] = inside ? 1 : 0;
    }
  }
  return mask;
}

function netArea(polygons: Polygon[]): number {
  return polygons.reduce((sum, p) => sum + polygonArea(p.outer) + p.holes.reduce((s, h) => s + polygonArea(h), 0), 0);
}

function expectSimpleRing(ring: Point[]): void {
  expect(ring.length).toBeGreaterThanOrEqual(3);
  expect(new Set(ring.map(([x, y]) => `${x},${y}`)).size).toBe(ring.length);
}

function expectWellFormed(polygons: Polygon[]): void {
  for (const polygon of polygons) {
    expect(polygonArea(polygon.outer)).toBeGreaterThan(0);
    expectSimpleRing(polygon.outer);
    for (const hole of polygon.holes) {
      expect(polygonArea(hole)).toBeLessThan(0);
      expectSimpleRing(hole);
    }
  }
}

describe("maskToPolygons", () => {
  it("returns nothing for an empty mask", () => {
    expect(maskToPolygons(emptyMask(9, 7))).toEqual([]);
    expect(maskToPolygons(emptyMask(0, 0))).toEqual([]);
  });

  it("outlines a single pixel on its corners, clockwise on screen", () => {
    const mask = emptyMask(8, 8);
    mask.data[4 * 8 + 3] = 1;
    expect(maskToPolygons(mask, { tolerance: 0 })).toEqual([
      { outer: [[3, 4], [4, 4], [4, 5], [3, 5]], holes: [] },
    ]);
    expect(polygonArea([[3, 4], [4, 4], [4, 5], [3, 5]])).toBe(1);
  });

  it("keeps three points of a single pixel at the default tolerance", () => {
    const mask = emptyMask(3, 3);
    mask.data[4] = 1;
    const [polygon] = maskToPolygons(mask);
    expect(polygon.outer).toHaveLength(3);
    expect(polygonArea(polygon.outer)).toBeCloseTo(0.5);
  });

  it("outlines a rectangle with exactly its four corners", () => {
    const mask = maskFromRows(["......", ".####.", ".####.", ".####.", "......"]);
    for (const tolerance of [0, 1, 2]) {
      const polygons = maskToPolygons(mask, { tolerance });
      expect(polygons).toHaveLength(1);
      expect(polygons[0].holes).toEqual([]);
      expect(polygons[0].outer).toHaveLength(4);
      expect(new Set(polygons[0].outer.map(String))).toEqual(new Set(["1,1", "5,1", "5,4", "1,4"]));
    }
  });

  it("outlines the whole image edge to edge", () => {
    const mask = maskFromRows(["###", "###"]);
    expect(maskToPolygons(mask, { tolerance: 0 })).toEqual([{ outer: [[0, 0], [3, 0], [3, 2], [0, 2]], holes: [] }]);
  });

  it("gives a square with a square hole an inner ring", () => {
    const mask = emptyMask(12, 12);
    for (let y = 2; y < 10; y++) for (let x = 2; x < 10; x++) mask.data[y * 12 + x] = x >= 4 && x < 7 && y >= 5 && y < 8 ? 0 : 1;
    const polygons = maskToPolygons(mask, { tolerance: 0 });
    expect(polygons).toHaveLength(1);
    const [{ outer, holes }] = polygons;
    expect(polygonArea(outer)).toBe(64);
    expect(holes).toHaveLength(1);
    expect(polygonArea(holes[0])).toBe(-9);
    expect(new Set(holes[0].map(String))).toEqual(new Set(["4,5", "7,5", "7,8", "4,8"]));
    expect(netArea(polygons)).toBe(maskArea(mask));
  });

  it("gives two separate blobs two polygons", () => {
    const mask = maskFromRows(["##....", "##..##", "....##"]);
    const polygons = maskToPolygons(mask, { tolerance: 0 });
    expect(polygons.map((p) => polygonArea(p.outer))).toEqual([4, 4]);
  });

  it("keeps diagonally touching pixels as separate polygons sharing a corner", () => {
    for (const rows of [["#.", ".#"], [".#", "#."]]) {
      const polygons = maskToPolygons(maskFromRows(rows), { tolerance: 0 });
      expect(polygons).toHaveLength(2);
      expectWellFormed(polygons);
      expect(polygons.every((p) => p.outer.some(([x, y]) => x === 1 && y === 1))).toBe(true);
    }
  });

  it("splits a ring that touches itself diagonally into an outer ring and a hole", () => {
    // The ring closes only through the diagonal contact at (3, 3), so the pocket is a hole touching the outline.
    const mask = maskFromRows(["#####", "#...#", "#..##", "###..", "....."]);
    const polygons = maskToPolygons(mask, { tolerance: 0 });
    expect(polygons).toHaveLength(1);
    expectWellFormed(polygons);
    expect(polygons[0].holes).toHaveLength(1);
    expect(polygons[0].holes[0].some(([x, y]) => x === 3 && y === 3)).toBe(true);
    expect(polygons[0].outer.some(([x, y]) => x === 3 && y === 3)).toBe(true);
    expect(netArea(polygons)).toBe(maskArea(mask));
  });

  it("splits a hole that pinches at a diagonal contact into two holes", () => {
    const mask = maskFromRows(["######", "#..###", "#..###", "###..#", "###..#", "######"]);
    const polygons = maskToPolygons(mask, { tolerance: 0 });
    expect(polygons).toHaveLength(1);
    expectWellFormed(polygons);
    expect(polygons[0].holes.map(polygonArea).sort()).toEqual([-4, -4]);
  });

  it("assigns holes to the innermost enclosing polygon", () => {
    const mask = maskFromRows([
      "#########",
      "#.......#",
      "#.#####.#",
      "#.#...#.#",
      "#.#.#.#.#",
      "#.#...#.#",
      "#.#####.#",
      "#.......#",
      "#########",
    ]);
    const polygons = maskToPolygons(mask, { tolerance: 0 });
    expect(polygons.map((p) => [polygonArea(p.outer), p.holes.map(polygonArea)])).toEqual([
      [81, [-49]],
      [25, [-9]],
      [1, []],
    ]);
  });

  it("approximates a disc within 2% at tolerance 1", () => {
    const size = 101, r = 40;
    const mask = emptyMask(size, size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) mask.data[y * size + x] = (x + 0.5 - 50.5) ** 2 + (y + 0.5 - 50.5) ** 2 < r * r ? 1 : 0;
    }
    const exact = maskToPolygons(mask, { tolerance: 0 });
    const [disc] = maskToPolygons(mask);
    expect(disc.outer.length).toBeLessThan(exact[0].outer.length / 2);
    expect(Math.abs(polygonArea(disc.outer) - maskArea(mask)) / maskArea(mask)).toBeLessThan(0.02);
  });

  it("reproduces random blobs exactly at tolerance 0", () => {
    const random = seededRandom(2024);
    for (let trial = 0; trial < 40; trial++) {
      const width = 5 + Math.floor(random() * 40), height = 5 + Math.floor(random() * 40);
      const mask = randomBlobs(width, height, random);
      const polygons = maskToPolygons(mask, { tolerance: 0 });
      expectWellFormed(polygons);
      expect(netArea(polygons)).toBe(maskArea(mask));
      expect(rasterise(polygons, width, height).data).toEqual(mask.data);
    }
  });

  it("reproduces random noise exactly at tolerance 0, with simple rings throughout", () => {
    const random = seededRandom(7);
    for (const density of [0.2, 0.5, 0.8]) {
      const mask = randomNoise(23, 17, density, random);
      const polygons = maskToPolygons(mask, { tolerance: 0 });
      expectWellFormed(polygons);
      expect(netArea(polygons)).toBe(maskArea(mask));
      expect(rasterise(polygons, 23, 17).data).toEqual(mask.data);
    }
  });

  it("keeps every ring at three points or more when simplifying hard", () => {
    const mask = randomBlobs(40, 40, seededRandom(99));
    for (const polygon of maskToPolygons(mask, { tolerance: 50 })) {
      expect(polygon.outer.length).toBeGreaterThanOrEqual(3);
      for (const hole of polygon.holes) expect(hole.length).toBeGreaterThanOrEqual(3);
    }
  });

  it("rejects a negative tolerance", () => {
    expect(() => maskToPolygons(emptyMask(2, 2), { tolerance: -1 })).toThrow(/tolerance/);
  });
});

describe("polygonArea", () => {
  it("is signed by orientation", () => {
    const clockwise: Point[] = [[0, 0], [2, 0], [2, 3], [0, 3]];
    expect(polygonArea(clockwise)).toBe(6);
    expect(polygonArea([...clockwise].reverse())).toBe(-6);
  });
});
