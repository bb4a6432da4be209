/** The video tracker's memory settings (HF `Sam3TrackerVideoConfig`, the pack's trackerConstants config). */
export interface MemorySettings {
  /** Memory slots in attention: 1 for conditioning frames' row + (numMaskmem - 1) recent frames. */
  numMaskmem: number;
  /** Conditioning frames attended to at most, the closest in time. */
  maxCondFrames: number;
  /** Object pointers attended to at most (conditioning frames' and recent frames'). */
  maxPointers: number;
}

export const DEFAULT_MEMORY: MemorySettings = Object.freeze({ numMaskmem: 7, maxCondFrames: 4, maxPointers: 16 });

/** What one object keeps of one frame: its encoded memory and its object pointer. */
export interface MemoryEntry {
  /** The memory encoder's features of this object's mask, [Cm, g, g], rounded to bfloat16 as the reference stores them. */
  features: Float32Array;
  /** The decoder's object pointer for the chosen mask, [C]. */
  pointer: Float32Array;
}

/** One memory frame as memory attention reads it: 0 for a conditioning frame, else how many frames away. */
export interface SelectedMemory {
  frame: number;
  offset: number;
  entry: MemoryEntry;
}

export interface MemorySelection {
  memories: SelectedMemory[];
  pointers: { frame: number; offset: number; pointer: Float32Array }[];
  /** The pointers' temporal encoding divides offsets by this. */
  maxPointerOffset: number;
}

/**
 * One object's memory bank: its conditioning frames (prompted, seeded or re-conditioned) and the frames it was
 * tracked on. Selection follows SAM 3's tracker: the conditioning frames closest in time, then the most recent
 * tracked frames in the direction of travel, and object pointers from both. Tracked frames too far from every
 * frame still to be read are dropped, so the bank stays bounded however long the video is.
 */
export class ObjectMemory {
  /** In the order they became conditioning frames, as the reference iterates them. */
  readonly conditioning = new Map<number, MemoryEntry>();
  readonly tracked = new Map<number, MemoryEntry>();

  constructor(private readonly settings: MemorySettings = DEFAULT_MEMORY) {}

  /** A prompted or seeded frame: it stays for the whole session. */
  setConditioning(frame: number, entry: MemoryEntry): void {
    this.tracked.delete(frame);
    this.conditioning.set(frame, entry);
  }

  setTracked(frame: number, entry: MemoryEntry): void {
    if (this.conditioning.has(frame)) this.conditioning.set(frame, entry);
    else this.tracked.set(frame, entry);
  }

  /** Turns a tracked frame into a conditioning one (re-conditioning on a confirmed frame). */
  promote(frame: number): void {
    const entry = this.tracked.get(frame);
    if (entry) this.setConditioning(frame, entry);
  }

  has(frame: number): boolean {
    return this.conditioning.has(frame) || this.tracked.has(frame);
  }

  get size(): number {
    return this.conditioning.size + this.tracked.size;
  }

  /** What memory attention reads on `frame`, tracking forward or in reverse through `numFrames` frames. */
  select(frame: number, reverse: boolean, numFrames: number): MemorySelection {
    const { numMaskmem, maxCondFrames, maxPointers } = this.settings;
    const { selected, unselected } = closestConditioning(frame, this.conditioning, maxCondFrames);
    const memories: SelectedMemory[] = selected.map((f) => ({ frame: f, offset: 0, entry: this.conditioning.get(f)! }));
    const sign = reverse ? -1 : 1;
    // the recent frames, oldest first; a conditioning frame left out of the closest ones counts as a recent frame
    for (let offset = numMaskmem - 1; offset > 0; offset--) {
      const f = frame - sign * offset;
      const entry = this.tracked.get(f) ?? (unselected.has(f) ? this.conditioning.get(f) : undefined);
      if (entry) memories.push({ frame: f, offset, entry });
    }
    const pointers: MemorySelection["pointers"] = [];
    for (const [f, entry] of this.conditioning) {
      if (reverse ? f >= frame : f <= frame) pointers.push({ frame: f, offset: (frame - f) * sign, pointer: entry.pointer });
    }
    const usable = Math.min(numFrames, maxPointers);
    for (let offset = 1; offset < usable; offset++) {
      const f = frame - sign * offset;
      if (f < 0 || f >= numFrames) break;
      const entry = this.tracked.get(f);
      if (entry) pointers.push({ frame: f, offset, pointer: entry.pointer });
    }
    return { memories, pointers, maxPointerOffset: usable - 1 };
  }

  /**
   * Drops tracked frames that no later frame of this pass can read (further behind `frame` than the pointer
   * window) unless they lie within that window of a conditioning frame, where the next pass starts.
   */
  prune(frame: number, reverse: boolean): void {
    const reach = Math.max(this.settings.numMaskmem, this.settings.maxPointers);
    const sign = reverse ? -1 : 1;
    for (const f of this.tracked.keys()) {
      const behind = (frame - f) * sign;
      if (behind < reach) continue;
      if ([...this.conditioning.keys()].some((c) => Math.abs(c - f) < reach)) continue;
      this.tracked.delete(f);
    }
  }
}

/**
 * Up to `max` conditioning frames closest in time to `frame`: the closest before, the closest at or after, then
 * the nearest others. All of them when there are no more than `max`, in their stored order.
 */
export function closestConditioning(frame: number, conditioning: Map<number, unknown>, max: number): { selected: number[]; unselected: Set<number> } {
  const all = [...conditioning.keys()];
  if (max < 0 || all.length <= max) return { selected: all, unselected: new Set() };
  const selected: number[] = [];
  const before = all.filter((f) => f < frame);
  const after = all.filter((f) => f >= frame);
  if (before.length) selected.push(Math.max(...before));
  if (after.length) selected.push(Math.min(...after));
  const rest = all.filter((f) => !selected.includes(f)).sort((a, b) => Math.abs(a - frame) - Math.abs(b - frame));
  selected.push(...rest.slice(0, max - selected.length));
  return { selected, unselected: new Set(all.filter((f) => !selected.includes(f))) };
}
