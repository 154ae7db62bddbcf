// The bytes of the hub's answers, shared by every query whose answer is the same, and counted.
// Strangers can ask for thousands of distinct queries that all answer the same big value
// (`target=b`, `target=bi`, `target=big`...); each would hold its own copy of the answer and of
// its encodings (the SSE `init` frame, the gRPC reply). Here equal answers are one Buffer, its
// encodings are made once, and `bytes` says what they all hold, for the hub's byte budget.

interface Entry {
  json: Buffer;
  /** Queries whose current answer this is. */
  refs: number;
  /** Transport encodings of this answer (e.g. `sse-init`), made on first use. */
  encodings: Map<string, unknown>;
  /** json plus the Buffer encodings. */
  bytes: number;
}

/** Equal answers have equal lengths: compare with at most this many of the same length. */
const CANDIDATES = 16;

export class SharedAnswers {
  private readonly byLength = new Map<number, Entry[]>();
  private total = 0;

  /** Bytes held by the answers in use and their encodings. */
  get bytes(): number {
    return this.total;
  }

  /** Takes a reference to `json`'s bytes: an equal Buffer already held, or `json` itself. */
  intern(json: Buffer): Buffer {
    let same = this.byLength.get(json.length);
    if (!same) this.byLength.set(json.length, (same = []));
    const n = Math.min(same.length, CANDIDATES);
    for (let i = 0; i < n; i++) {
      const entry = same[i];
      if (entry.json === json || entry.json.equals(json)) {
        entry.refs++;
        return entry.json;
      }
    }
    same.push({ json, refs: 1, encodings: new Map(), bytes: json.length });
    this.total += json.length;
    return json;
  }

  /** Drops a reference taken by intern(). */
  release(json: Buffer): void {
    const same = this.byLength.get(json.length);
    const i = same?.findIndex((e) => e.json === json) ?? -1;
    if (!same || i < 0) return;
    const entry = same[i];
    if (--entry.refs > 0) return;
    this.total -= entry.bytes;
    same.splice(i, 1);
    if (same.length === 0) this.byLength.delete(json.length);
  }

  /** A transport's encoding of an answer, made once per answer (not per query) and counted. */
  encoding<T>(json: Buffer, format: string, encode: (json: Buffer) => T): T {
    const entry = this.byLength.get(json.length)?.find((e) => e.json === json);
    if (!entry) return encode(json);
    let e = entry.encodings.get(format) as T | undefined;
    if (e === undefined) {
      e = encode(json);
      entry.encodings.set(format, e);
      if (Buffer.isBuffer(e)) {
        entry.bytes += e.length;
        this.total += e.length;
      }
    }
    return e;
  }
}
