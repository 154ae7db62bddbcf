// What changed between two answers, in a few words: the top-level keys added, removed and
// changed (objects), or the elements added and removed (lists), for `lainlet watch`; and where
// two answers differ, by JSON path, for `lainlet diff`.

export interface ChangeSummary {
  added: string[];
  removed: string[];
  changed: string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A list element as a short name: a string as is, anything else as its JSON. */
function label(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function diffAnswers(prev: unknown, next: unknown): ChangeSummary {
  const out: ChangeSummary = { added: [], removed: [], changed: [] };
  if (isObject(prev) && isObject(next)) {
    for (const k of Object.keys(next)) {
      if (!Object.hasOwn(prev, k)) out.added.push(k);
      else if (JSON.stringify(prev[k]) !== JSON.stringify(next[k])) out.changed.push(k);
    }
    for (const k of Object.keys(prev)) if (!Object.hasOwn(next, k)) out.removed.push(k);
  } else if (Array.isArray(prev) && Array.isArray(next)) {
    // As multisets: an element present twice before and once after was removed once.
    const count = multiset(prev);
    for (const v of next) {
      const k = JSON.stringify(v);
      const n = count.get(k) ?? 0;
      if (n > 0) count.set(k, n - 1);
      else out.added.push(label(v));
    }
    for (const [k, n] of count) for (let i = 0; i < n; i++) out.removed.push(label(JSON.parse(k)));
  } else if (JSON.stringify(prev) !== JSON.stringify(next)) {
    out.changed.push('(value)');
  }
  return out;
}

function list(names: string[], max: number): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} (+${names.length - max} more)` : shown;
}

/** `+1 -0 ~2 added: a; changed: b, c`, or `no change`. */
export function formatSummary(s: ChangeSummary, max = 5): string {
  const parts: string[] = [];
  if (s.added.length) parts.push(`added: ${list(s.added, max)}`);
  if (s.removed.length) parts.push(`removed: ${list(s.removed, max)}`);
  if (s.changed.length) parts.push(`changed: ${list(s.changed, max)}`);
  const counts = `+${s.added.length} -${s.removed.length} ~${s.changed.length}`;
  return parts.length ? `${counts} ${parts.join('; ')}` : 'no change';
}

/** The size of an answer for an `init` line: `12 keys`, `3 items`. */
export function describeAnswer(v: unknown): string {
  if (Array.isArray(v)) return `${v.length} item${v.length === 1 ? '' : 's'}`;
  if (isObject(v)) {
    const n = Object.keys(v).length;
    return `${n} key${n === 1 ? '' : 's'}`;
  }
  return JSON.stringify(v);
}

/** One place where two answers differ: a JSON path and what each side holds there. */
export interface PathDifference {
  /** `$`, `$["hello.web.web"].PodInfos[0].InstanceNo`, `$[*]` for an element of an unordered list. */
  path: string;
  /** The JSON text on each side; undefined where that side has nothing at this path. */
  a: string | undefined;
  b: string | undefined;
}

export interface DifferenceOptions {
  /** Compare the top-level list as a multiset (a list the Go binary writes in map order). */
  unorderedTopLevel?: boolean;
  /** Stop after this many differences (default 20). */
  limit?: number;
}

function pathOf(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return /^[A-Za-z_][\w]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

/** Counts of a list's elements by their JSON text (the multiset the two sides are compared as). */
function multiset(list: unknown[]): Map<string, number> {
  const count = new Map<string, number>();
  for (const v of list) {
    const k = JSON.stringify(v);
    count.set(k, (count.get(k) ?? 0) + 1);
  }
  return count;
}

/**
 * Where two JSON answers differ, by JSON path, in document order (for `lainlet diff`). Objects
 * are compared key by key whatever their key order; lists element by element, except an
 * unordered top-level list, whose elements present on one side only are reported at `$[*]`.
 */
export function jsonDifferences(a: unknown, b: unknown, opts: DifferenceOptions = {}): PathDifference[] {
  const limit = opts.limit ?? 20;
  const out: PathDifference[] = [];
  const add = (path: string, x: unknown, y: unknown) => {
    if (out.length < limit) out.push({ path, a: x === undefined ? undefined : JSON.stringify(x), b: y === undefined ? undefined : JSON.stringify(y) });
  };
  const walk = (x: unknown, y: unknown, path: string, unordered: boolean): void => {
    if (out.length >= limit) return;
    if (isObject(x) && isObject(y)) {
      for (const k of Object.keys(x)) walk(x[k], Object.hasOwn(y, k) ? y[k] : undefined, pathOf(path, k), false);
      for (const k of Object.keys(y)) if (!Object.hasOwn(x, k)) add(pathOf(path, k), undefined, y[k]);
    } else if (Array.isArray(x) && Array.isArray(y) && unordered) {
      const inB = multiset(y);
      for (const v of x) {
        const k = JSON.stringify(v);
        const n = inB.get(k) ?? 0;
        if (n > 0) inB.set(k, n - 1);
        else add(`${path}[*]`, v, undefined);
      }
      for (const [k, n] of inB) for (let i = 0; i < n; i++) add(`${path}[*]`, undefined, JSON.parse(k));
    } else if (Array.isArray(x) && Array.isArray(y)) {
      for (let i = 0; i < Math.max(x.length, y.length); i++) walk(x[i], y[i], pathOf(path, i), false);
    } else if (JSON.stringify(x) !== JSON.stringify(y)) {
      add(path, x, y);
    }
  };
  walk(a, b, '$', opts.unorderedTopLevel === true);
  return out;
}
