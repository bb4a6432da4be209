import { describe, expect, it } from "vitest";
import { AsyncLruCache } from "../../core/runtime/lru";
import { SerialQueue } from "../../core/runtime/serial-queue";

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("serial queue", () => {
  it("never overlaps two tasks and keeps their order, even after a failure", async () => {
    const queue = new SerialQueue();
    const log: string[] = [];
    let running = 0;
    const task = (name: string, fail = false) => async () => {
      expect(++running).toBe(1);
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
      running--;
      if (fail) throw new Error(name);
      return name;
    };
    const results = await Promise.allSettled([queue.run(task("a")), queue.run(task("b", true)), queue.run(task("c"))]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(log).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
  });
});

describe("async LRU cache", () => {
  it("computes once for concurrent callers and evicts the least recently used", async () => {
    const cache = new AsyncLruCache<number>(2);
    let computed = 0;
    const make = (v: number) => async () => {
      computed++;
      await tick();
      return v;
    };
    expect(await Promise.all([cache.getOrCreate("a", make(1)), cache.getOrCreate("a", make(99))])).toEqual([1, 1]);
    expect(computed).toBe(1);
    await cache.getOrCreate("b", make(2));
    await cache.getOrCreate("a", make(99)); // touch a: b is now the oldest
    await cache.getOrCreate("c", make(3));
    expect(await cache.getOrCreate("c", make(99))).toBe(3);
    expect(await cache.getOrCreate("a", make(99))).toBe(1);
    expect(await cache.getOrCreate("b", make(20))).toBe(20); // evicted: computed again
    expect(computed).toBe(4);
  });

  it("forgets failed computations", async () => {
    const cache = new AsyncLruCache<number>(2);
    await expect(cache.getOrCreate("x", async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await tick();
    expect(await cache.getOrCreate("x", async () => 5)).toBe(5);
  });
});
