// Per-entry pieces of an answer, encoded once and cached on the decoded value they come from.
// The state index makes a new object for every etcd write of a key, so an unchanged pod group
// keeps its object and its cached piece: a change re-encodes only what it touched, and the
// answer is a join of cached bytes (a memcpy), not a walk over the whole cluster.
import { goJson, goString, sortKeysBytewise } from '../encode/gojson.js';

export class FragmentCache<S extends object, V> {
  private readonly cache = new WeakMap<S, Buffer | null>();

  /** `build` gives the entry's value (in the encoder's wire form), or undefined to leave it out. */
  constructor(private readonly build: (source: S) => V | undefined) {}

  /** The Go JSON of the entry built from `source`, or null when it is left out. */
  get(source: S): Buffer | null {
    let bytes = this.cache.get(source);
    if (bytes === undefined) {
      const value = this.build(source);
      bytes = value === undefined ? null : Buffer.from(goJson(value));
      this.cache.set(source, bytes);
    }
    return bytes;
  }
}

const OPEN = Buffer.from('{');
const CLOSE = Buffer.from('}');

/**
 * A Go map answer (`{"k":v,...}`, keys sorted bytewise) from already-encoded values; entries
 * whose value is null are left out, and a later duplicate key wins, as with Map.set.
 */
export function joinEncodedMap(entries: Iterable<readonly [string, Buffer | null]>): Buffer {
  const byKey = new Map<string, Buffer>();
  for (const [key, bytes] of entries) {
    if (bytes === null) byKey.delete(key);
    else byKey.set(key, bytes);
  }
  const parts: Buffer[] = [OPEN];
  let first = true;
  for (const key of sortKeysBytewise([...byKey.keys()])) {
    parts.push(Buffer.from(`${first ? '' : ','}${goString(key)}:`), byKey.get(key)!);
    first = false;
  }
  parts.push(CLOSE);
  return Buffer.concat(parts);
}
