/**
 * What one request cost, as `npm run bench` reports it: milliseconds per pipeline stage, and `vitPasses`, how many
 * times the image ViT ran for it (0 when the image's features were cached).
 */
export type Timings = Record<string, number>;

/** The one entry of Timings that counts runs rather than milliseconds. */
export const VIT_PASSES = "vitPasses";

export async function timed<T>(timings: Timings, stage: string, work: () => Promise<T> | T): Promise<T> {
  const start = performance.now();
  try {
    return await work();
  } finally {
    timings[stage] = (timings[stage] ?? 0) + performance.now() - start;
  }
}

/** The stages' milliseconds, without the pass count. */
export const stageMilliseconds = (timings: Timings): [string, number][] => Object.entries(timings).filter(([stage]) => stage !== VIT_PASSES);
