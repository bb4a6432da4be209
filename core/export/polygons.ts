import { Sam3Error } from "../errors";
import { Mask } from "../masks/mask";

/** [x, y] on the pixel-corner grid: pixel (3, 4) spans [3, 4] to [4, 5]. */
export type Point = [number, number];

/**
 * One 4-connected foreground component. Rings are implicitly closed (the first point is not repeated).
 * Outer rings run clockwise on screen (y down, positive polygonArea), holes counter-clockwise (negative).
 */
export interface Polygon {
  outer: Point[];
  holes: Point[][];
}

export interface PolygonOptions {
  /** Douglas-Peucker tolerance in pixels; 0 keeps the exact pixel outline. */
  tolerance?: number;
}

// Directions clockwise on screen, so (d + 1) & 3 is a right turn.
const EAST = 0;
const SOUTH = 1;
const DIRECTION_BITS = 0b1111;
const EAST_BIT = 1 << EAST;
const SOUTH_BIT = 1 << SOUTH;
const WEST_BIT = 1 << 2;
const NORTH_BIT = 1 << 3;
/** Vertex where two foreground pixels touch only diagonally. */
const SADDLE = 1 << 4;

/**
 * Traces the mask outline on the pixel-edge grid, one polygon per 4-connected component (diagonal
 * neighbours are separate polygons that share a corner), then simplifies every ring.
 */
export function maskToPolygons(mask: Mask, { tolerance = 1 }: PolygonOptions = {}): Polygon[] {
  if (!(typeof tolerance === "number" && tolerance >= 0 && tolerance < Infinity)) throw new Sam3Error("BAD_OPTION", `tolerance must be a finite number >= 0, got ${tolerance}`);
  const vertexWidth = mask.width + 1;
  const edges = buildBoundaryEdges(mask);
  const { componentAt, componentCount } = labelComponents(mask);
  const polygonOfComponent = new Int32Array(componentCount).fill(-1);
  const polygons: Polygon[] = [];
  for (let start = 0; start < edges.length; start++) {
    const bits = edges[start] & DIRECTION_BITS;
    if (bits === 0) continue;
    const x = start % vertexWidth;
    const y = (start - x) / vertexWidth;
    // In raster order a trace first shows up leaving east (top-left of a component) or south (top-left of a hole).
    const fromOuter = (bits & EAST_BIT) !== 0;
    const component = fromOuter ? componentAt(x, y) : componentAt(x - 1, y);
    if (polygonOfComponent[component] < 0) {
      polygonOfComponent[component] = polygons.length;
      polygons.push({ outer: [], holes: [] });
    }
    const polygon = polygons[polygonOfComponent[component]];
    for (const ring of traceRings(edges, vertexWidth, start, fromOuter ? EAST : SOUTH)) {
      const points = ring.map((id): Point => [id % vertexWidth, Math.floor(id / vertexWidth)]);
      // Traced rings hold only corners, so tolerance 0 has nothing to remove.
      const simplified = tolerance === 0 ? points : simplifyRing(points, saddleIndices(ring, edges), tolerance);
      if (polygonArea(points) > 0) polygon.outer = simplified;
      else polygon.holes.push(simplified);
    }
  }
  return polygons;
}

/** Signed shoelace area: positive for outer rings (clockwise on screen, y down), negative for holes. */
export function polygonArea(ring: readonly Point[]): number {
  let twice = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    twice += ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
  }
  return twice / 2;
}

/**
 * Per vertex of the (width+1) x (height+1) corner grid: the directed boundary edges leaving it, oriented
 * with foreground on the right, plus the SADDLE flag.
 */
function buildBoundaryEdges(mask: Mask): Uint8Array {
  const { width, height, data } = mask;
  const vertexWidth = width + 1;
  const edges = new Uint8Array(vertexWidth * (height + 1));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!data[i]) continue;
      const topLeft = y * vertexWidth + x;
      const up = y > 0 && data[i - width] !== 0;
      const down = y < height - 1 && data[i + width] !== 0;
      const left = x > 0 && data[i - 1] !== 0;
      const right = x < width - 1 && data[i + 1] !== 0;
      if (!up) edges[topLeft] |= EAST_BIT;
      if (!right) edges[topLeft + 1] |= SOUTH_BIT;
      if (!down) edges[topLeft + vertexWidth + 1] |= WEST_BIT;
      if (!left) edges[topLeft + vertexWidth] |= NORTH_BIT;
      // Each saddle is seen once, from the foreground pixel above it.
      if (!down && !right && x < width - 1 && y < height - 1 && data[i + width + 1]) edges[topLeft + vertexWidth + 1] |= SADDLE;
      if (!down && !left && x > 0 && y < height - 1 && data[i + width - 1]) edges[topLeft + vertexWidth] |= SADDLE;
    }
  }
  return edges;
}

/**
 * Follows one closed boundary from `start`, consuming its edges, and returns its corner vertices as
 * simple rings: where the walk comes back to a saddle it already passed, the loop in between is cut off.
 */
function traceRings(edges: Uint8Array, vertexWidth: number, start: number, firstDirection: number): number[][] {
  const step = [1, vertexWidth, -1, -vertexWidth];
  const rings: number[][] = [];
  // The start is always a corner: a component's top-left turns north to east, a hole's west to south.
  const path: number[] = [start];
  const saddleIndex = new Map<number, number>();
  if (edges[start] & SADDLE) saddleIndex.set(start, 0);
  let vertex = start;
  let direction = firstDirection;
  for (;;) {
    edges[vertex] &= ~(1 << direction);
    vertex += step[direction];
    const bits = edges[vertex];
    let next: number;
    if (bits & SADDLE) {
      // Turning right keeps hugging the same pixel, so diagonal neighbours stay apart.
      next = (direction + 1) & 3;
      if (!(bits & (1 << next))) break;
      const seen = saddleIndex.get(vertex);
      if (seen === undefined) {
        saddleIndex.set(vertex, path.length);
        path.push(vertex);
      } else {
        rings.push(path.slice(seen));
        path.length = seen + 1;
      }
    } else {
      if (!(bits & DIRECTION_BITS)) break;
      next = 31 - Math.clz32(bits & DIRECTION_BITS);
      if (next !== direction) path.push(vertex);
    }
    direction = next;
  }
  rings.push(path);
  return rings;
}

function saddleIndices(ring: number[], edges: Uint8Array): number[] {
  const indices: number[] = [];
  for (let i = 0; i < ring.length; i++) if (edges[ring[i]] & SADDLE) indices.push(i);
  return indices;
}

interface Components {
  /** Ids run from 0 to componentCount - 1, with gaps: an id is the index of the component's root run. */
  componentCount: number;
  componentAt(x: number, y: number): number;
}

/** Union-find over horizontal runs, 4-connected, so labelling costs memory per run rather than per pixel. */
function labelComponents(mask: Mask): Components {
  const { width, height, data } = mask;
  const rowStart = new Int32Array(height + 1);
  let runCount = 0;
  for (let y = 0; y < height; y++) {
    rowStart[y] = runCount;
    const row = y * width;
    for (let x = 0; x < width; x++) if (data[row + x] && (x === 0 || !data[row + x - 1])) runCount++;
  }
  rowStart[height] = runCount;
  const runStart = new Int32Array(runCount);
  const runEnd = new Int32Array(runCount);
  let r = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (!data[row + x]) continue;
      if (x === 0 || !data[row + x - 1]) runStart[r] = x;
      if (x === width - 1 || !data[row + x + 1]) runEnd[r++] = x + 1;
    }
  }
  const parent = new Int32Array(runCount);
  for (let i = 0; i < runCount; i++) parent[i] = i;
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  for (let y = 1; y < height; y++) {
    let above = rowStart[y - 1];
    let here = rowStart[y];
    while (above < rowStart[y] && here < rowStart[y + 1]) {
      if (runStart[above] < runEnd[here] && runStart[here] < runEnd[above]) parent[find(above)] = find(here);
      if (runEnd[above] < runEnd[here]) above++;
      else here++;
    }
  }
  const componentAt = (x: number, y: number): number => {
    let lo = rowStart[y];
    let hi = rowStart[y + 1] - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (runStart[mid] <= x) lo = mid;
      else hi = mid - 1;
    }
    return find(lo);
  };
  return { componentCount: runCount, componentAt };
}

/**
 * Douglas-Peucker on a closed ring, split at fixed points: the saddle vertices, so rings that touch there
 * still touch, or else the first point and the one farthest from it.
 */
function simplifyRing(ring: Point[], anchors: number[], tolerance: number): Point[] {
  const n = ring.length;
  const fixed = anchors.length >= 2 ? anchors : [anchors[0] ?? 0];
  if (fixed.length === 1) fixed.push(farthestFrom(ring, fixed[0]));
  const keep = new Uint8Array(n);
  for (const i of fixed) keep[i] = 1;
  const toleranceSq = tolerance * tolerance;
  for (let k = 0; k < fixed.length; k++) markChain(ring, fixed[k], fixed[(k + 1) % fixed.length], toleranceSq, keep);
  let kept = 0;
  for (let i = 0; i < n; i++) kept += keep[i];
  // A ring needs three points to keep any area.
  if (kept < 3) keep[farthestFromChain(ring, fixed[0], fixed[1], fixed[0], n)] = 1;
  return ring.filter((_, i) => keep[i] === 1);
}

/** Marks the points Douglas-Peucker keeps strictly between cyclic indices `from` and `to`. */
function markChain(ring: Point[], from: number, to: number, toleranceSq: number, keep: Uint8Array): void {
  const n = ring.length;
  const stack = [0, (to - from + n) % n];
  while (stack.length > 0) {
    const hi = stack.pop()!;
    const lo = stack.pop()!;
    if (hi - lo < 2) continue;
    const a = (from + lo) % n;
    const b = (from + hi) % n;
    const farthest = farthestFromChain(ring, a, b, (from + lo + 1) % n, hi - lo - 1);
    if (segmentDistanceSq(ring[farthest], ring[a], ring[b]) <= toleranceSq) continue;
    keep[farthest] = 1;
    const mid = (farthest - from + n) % n;
    stack.push(lo, mid, mid, hi);
  }
}

/** Index of the point farthest from segment a-b among `count` points starting at cyclic index `first`. */
function farthestFromChain(ring: Point[], a: number, b: number, first: number, count: number): number {
  let best = first;
  let bestSq = -1;
  for (let k = 0; k < count; k++) {
    const i = (first + k) % ring.length;
    const d = segmentDistanceSq(ring[i], ring[a], ring[b]);
    if (d > bestSq) {
      bestSq = d;
      best = i;
    }
  }
  return best;
}

function farthestFrom(ring: Point[], origin: number): number {
  const [ox, oy] = ring[origin];
  let best = origin;
  let bestSq = -1;
  for (let i = 0; i < ring.length; i++) {
    const d = (ring[i][0] - ox) ** 2 + (ring[i][1] - oy) ** 2;
    if (d > bestSq) {
      bestSq = d;
      best = i;
    }
  }
  return best;
}

/** Squared distance to a segment, exactly 0 for integer points on it. */
function segmentDistanceSq(p: Point, a: Point, b: Point): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const px = p[0] - a[0];
  const py = p[1] - a[1];
  const dot = px * dx + py * dy;
  const lengthSq = dx * dx + dy * dy;
  if (dot <= 0) return px * px + py * py;
  if (dot >= lengthSq) return (p[0] - b[0]) ** 2 + (p[1] - b[1]) ** 2;
  const cross = px * dy - py * dx;
  return (cross * cross) / lengthSq;
}
