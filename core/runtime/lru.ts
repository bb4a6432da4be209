/**
 * Least-recently-used cache of async results (the encoder features of the last few images, text features of the
 * last prompts). Concurrent callers with one key share one computation; a failed computation is not kept.
 */
export class AsyncLruCache<V> {
  private readonly entries = new Map<string, Promise<V>>();
  constructor(private readonly capacity: number) {}

  getOrCreate(key: string, make: () => Promise<V>): Promise<V> {
    let value = this.entries.get(key);
    if (value) {
      this.entries.delete(key);
    } else {
      value = make();
      value.catch(() => this.entries.get(key) === value && this.entries.delete(key));
    }
    this.entries.set(key, value);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }

  clear(): void {
    this.entries.clear();
  }
}
