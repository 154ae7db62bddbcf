// A keyed collection with lainlet's query rules (docs/API.md, "Query keys"), used for every source.
import type { Collection } from './types.js';

/**
 * A Map plus a sorted key array, kept sorted on every insert and delete (binary search and one
 * splice), so prefix queries cost O(log n + matches) and entries come out in key order.
 * Keys are ordered by UTF-16 code units (JS `<`): every prefix is then one contiguous run.
 */
export class KeyedCollection<T> implements Collection<T> {
  private readonly values = new Map<string, T>();
  private readonly sortedKeys: string[] = [];

  get size(): number {
    return this.values.size;
  }

  get(key: string): T | undefined {
    return this.values.get(key);
  }

  has(key: string): boolean {
    return this.values.has(key);
  }

  set(key: string, value: T): void {
    if (!this.values.has(key)) this.sortedKeys.splice(this.lowerBound(key), 0, key);
    this.values.set(key, value);
  }

  /** Returns whether the key was there. */
  delete(key: string): boolean {
    if (!this.values.delete(key)) return false;
    this.sortedKeys.splice(this.lowerBound(key), 1);
    return true;
  }

  query(key: string): Array<[string, T]> {
    if (key === '*') return [...this.entries()];
    if (this.values.has(key)) return [[key, this.values.get(key) as T]];
    return this.keysWithPrefix(key).map((k) => [k, this.values.get(k) as T]);
  }

  /** The keys starting with `prefix`, in key order. */
  private keysWithPrefix(prefix: string): string[] {
    const out: string[] = [];
    for (let i = this.lowerBound(prefix); i < this.sortedKeys.length; i++) {
      const k = this.sortedKeys[i];
      if (!k.startsWith(prefix)) break;
      out.push(k);
    }
    return out;
  }

  *entries(): IterableIterator<[string, T]> {
    for (const k of this.sortedKeys) yield [k, this.values.get(k) as T];
  }

  /** Index of the first key >= `key`. */
  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.sortedKeys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sortedKeys[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
