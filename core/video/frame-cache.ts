import type { RgbImage } from "../image/decode";

/** Least-recently-used frames within a byte budget; a frame larger than the whole budget is not kept. */
export class FrameCache {
  private readonly frames = new Map<number, RgbImage>();
  bytes = 0;

  constructor(private readonly budget: number) {}

  get(index: number): RgbImage | undefined {
    const frame = this.frames.get(index);
    if (frame) {
      this.frames.delete(index);
      this.frames.set(index, frame);
    }
    return frame;
  }

  put(index: number, frame: RgbImage): void {
    const size = frame.data.length;
    if (size > this.budget) return;
    this.remove(index);
    while (this.bytes + size > this.budget) this.remove(this.frames.keys().next().value!);
    this.frames.set(index, frame);
    this.bytes += size;
  }

  clear(): void {
    this.frames.clear();
    this.bytes = 0;
  }

  private remove(index: number): void {
    const frame = this.frames.get(index);
    if (!frame) return;
    this.frames.delete(index);
    this.bytes -= frame.data.length;
  }
}
