// What changed between two answers, in a few words: the top-level keys added, removed and
// changed (objects), or the elements added and removed (lists). For `lainlet watch`.

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
    const count = new Map<string, number>();
    for (const v of prev) count.set(JSON.stringify(v), (count.get(JSON.stringify(v)) ?? 0) + 1);
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
