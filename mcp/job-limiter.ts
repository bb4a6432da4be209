import { Sam3Error } from "../core/errors";

/** Caps how many heavy tool calls run at once: one more is refused at once rather than queued for ever. */
export class JobLimiter {
  private running = 0;
  constructor(private readonly max: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) {
      throw new Sam3Error("LIMIT_EXCEEDED", `${this.max} segmentation jobs are already running; try again when one finishes`);
    }
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
    }
  }
}
