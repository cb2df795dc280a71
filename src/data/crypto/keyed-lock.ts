/**
 * Runs async work one at a time per key within this process: work for a key starts only after
 * the previous work for the same key has settled. Work for different keys runs concurrently.
 */
export class KeyedLock {
  // Tail of the chain of queued work per key, removed once the chain drains.
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) {
        this.#tails.delete(key);
      }
    });
    return result;
  }
}
