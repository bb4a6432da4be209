import { Sam3Error } from "../core";

export interface JobLimits {
  /** Jobs running at once. */
  running: number;
  /** Jobs waiting for a slot at most; one more is refused. */
  waiting: number;
  /** A job waiting longer than this gives up with a TIMEOUT error. */
  waitMs: number;
}

export interface JobOptions {
  /** Told the job's place in the queue (1: next to run) whenever it changes while it waits. */
  onQueued?: (position: number) => void;
  /** Aborting it takes a waiting job out of the queue. */
  signal?: AbortSignal;
}

interface Waiter {
  start: () => void;
  onQueued?: (position: number) => void;
}

/** Caps how many model-running tool calls run at once; the rest wait in order, up to a bound and a time limit. */
export class JobLimiter {
  private running = 0;
  private readonly queue: Waiter[] = [];

  constructor(private readonly limits: JobLimits) {}

  async run<T>(work: () => Promise<T>, options: JobOptions = {}): Promise<T> {
    if (this.running >= this.limits.running || this.queue.length) await this.wait(options);
    else this.running++;
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private wait({ onQueued, signal }: JobOptions): Promise<void> {
    if (this.queue.length >= this.limits.waiting) {
      throw new Sam3Error("LIMIT_EXCEEDED", `${this.limits.waiting} calls are already waiting for the model; try again later`);
    }
    return new Promise<void>((resolve, reject) => {
      const leave = (error: Sam3Error) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", aborted);
        this.queue.splice(this.queue.indexOf(waiter), 1);
        this.tellPositions();
        reject(error);
      };
      const aborted = () => leave(new Sam3Error("BAD_REQUEST", "the call was cancelled while it waited for the model"));
      const waiter: Waiter = {
        onQueued,
        start: () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", aborted);
          resolve();
        },
      };
      const timer = setTimeout(() => leave(new Sam3Error("TIMEOUT", `waited ${Math.round(this.limits.waitMs / 1000)} s for the model to be free; try again later`)), this.limits.waitMs);
      signal?.addEventListener("abort", aborted, { once: true });
      this.queue.push(waiter);
      onQueued?.(this.queue.length);
    });
  }

  /** Hands a finished job's slot straight to the first waiter, so a newcomer cannot overtake the queue. */
  private release() {
    const next = this.queue.shift();
    if (!next) {
      this.running--;
      return;
    }
    next.start();
    this.tellPositions();
  }

  private tellPositions() {
    this.queue.forEach((w, i) => w.onQueued?.(i + 1));
  }
}
