// A JSON writer that produces the bytes Go's encoding/json (Go 1.9, what lainlet 2.4.3 was
// built with) produces, so that clients comparing answers byte for byte see no difference.
//
// Value model:
// - a plain object is a Go struct: its fields are written in insertion order;
// - a `Map` is a Go map: keys are written sorted bytewise (UTF-8 order), like Go does;
// - a `GoAny` wraps a value decoded into Go's `interface{}` (e.g. a node's JSON object):
//   every object inside is a map (sorted keys) and every number a float64;
// - arrays, strings, booleans, numbers; `null` and `undefined` are written as `null`.
// Never rely on a plain object for arbitrary keys: JS moves integer-like keys to the front.

/** A value held in a Go `interface{}`, as decoded by JSON.parse. */
export class GoAny {
  constructor(readonly value: unknown) {}
}

/** The Go encoding/json text of `value` (see the value model above). */
export function goJson(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value, toPlainJson) ?? 'null';
  } catch (err) {
    if (err !== NEEDS_WRITER) throw err;
    const writer = new Writer();
    writer.value(value, false);
    return writer.parts.join('');
  }
  // Outside strings JSON has none of the characters to fix, so one pass over the text is enough.
  return NEEDS_GO_FIX.test(text) ? text.replace(FIXABLE_TOKEN, fixToken) : text;
}

// The fast path lets the native JSON.stringify do the work, with Maps and GoAny values turned
// into plain objects built in sorted key order. JS objects put integer-like keys first whatever
// the insertion order, and JSON.stringify writes -0 as 0: values with either take the Writer.
const NEEDS_WRITER = new Error('goJson: value needs the writer');
const ARRAY_INDEX_LIKE = /^(?:0|[1-9]\d{0,9})$/;

function toPlainJson(_key: string, value: unknown): unknown {
  if (value === undefined) return null; // a Go struct field is always written
  if (value instanceof Map) return sortedObject(value as Map<unknown, unknown>);
  if (value instanceof GoAny) return plainAny(value.value);
  return value;
}

function sortedObject(map: Map<unknown, unknown>): Record<string, unknown> {
  const keys: string[] = [];
  for (const k of map.keys()) {
    if (typeof k !== 'string') throw new Error('goJson: map keys must be strings');
    if (ARRAY_INDEX_LIKE.test(k)) throw NEEDS_WRITER;
    keys.push(k);
  }
  const out = emptyObject();
  for (const k of sortKeysBytewise(keys)) out[k] = map.get(k);
  return out;
}

/** No prototype, so that a `__proto__` key is a plain property. */
function emptyObject(): Record<string, unknown> {
  return Object.create(null) as Record<string, unknown>;
}

function plainAny(value: unknown): unknown {
  if (typeof value === 'number' && Object.is(value, -0)) throw NEEDS_WRITER;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(plainAny);
  const record = value as Record<string, unknown>;
  const out = emptyObject();
  for (const k of sortKeysBytewise(Object.keys(record))) {
    if (ARRAY_INDEX_LIKE.test(k)) throw NEEDS_WRITER;
    out[k] = plainAny(record[k]);
  }
  return out;
}

/** The text Go writes for a float64, e.g. `22`, `1000000`, `1.5e-7`, `1e+21`. */
export function goFloat(n: number): string {
  if (!Number.isFinite(n)) {
    // Go refuses too (json: unsupported value); JSON.parse never yields these.
    throw new Error(`json: unsupported value: ${n}`);
  }
  // JS number-to-string and Go's float64 encoding (shortest round-trip digits, plain notation
  // for 1e-6 <= |n| < 1e21, else exponent with at least one digit: 1e-7, 1e+21) agree,
  // except for negative zero, which Go keeps.
  if (n === 0 && Object.is(n, -0)) return '-0';
  return String(n);
}

/** Compares two strings by their UTF-8 bytes (= code point order), like Go's sort.Strings. */
export function compareBytewise(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // UTF-16 order differs from code point order only between surrogates and U+E000..U+FFFF.
      if (x >= 0xd800 && y >= 0xd800) return surrogateLast(x) - surrogateLast(y);
      return x - y;
    }
  }
  return a.length - b.length;
}

function surrogateLast(unit: number): number {
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

const HAS_NON_BMP_ORDER_ISSUE = /[\ud800-\uffff]/;

/** Sorts keys in place, bytewise; the plain sort is the same order unless a key has chars >= U+D800. */
export function sortKeysBytewise(keys: string[]): string[] {
  if (keys.some((k) => HAS_NON_BMP_ORDER_ISSUE.test(k))) return keys.sort(compareBytewise);
  return keys.sort();
}

// Characters where Go's output differs from JSON.stringify's: Go escapes <, >, & (HTML safety),
// U+2028/U+2029, writes \b and \f as \u0008 / \u000c, and replaces invalid UTF-16 (lone surrogates,
// Go's invalid UTF-8) by U+FFFD.
const NEEDS_GO_FIX = /[<>&\u2028\u2029\b\f\ud800-\udfff]/;
// Matches whole escape sequences of JSON.stringify's output, so `\\b` is never misread as `\b`.
const FIXABLE_TOKEN = /\\(?:u[0-9a-f]{4}|.)|[<>&\u2028\u2029]/g;

function fixToken(token: string): string {
  switch (token) {
    case '<':
      return '\\u003c';
    case '>':
      return '\\u003e';
    case '&':
      return '\\u0026';
    case '\u2028':
      return '\\u2028';
    case '\u2029':
      return '\\u2029';
    case '\\b':
      return '\\u0008';
    case '\\f':
      return '\\u000c';
    default:
      // JSON.stringify writes lone surrogates as \udXXX escapes; Go writes U+FFFD.
      return token.length === 6 && token.charCodeAt(2) === 0x64 /* d */ && token[3] >= '8' ? '\\ufffd' : token;
  }
}

/** A JSON string literal, escaped the way Go escapes it. */
export function goString(s: string): string {
  const quoted = JSON.stringify(s);
  if (!NEEDS_GO_FIX.test(s)) return quoted;
  return quoted.replace(FIXABLE_TOKEN, fixToken);
}

/**
 * The general encoder, for values the fast path cannot take (maps with integer-like keys, -0).
 * Collects the output pieces and joins them once: far less garbage than `+=` on big answers.
 */
class Writer {
  readonly parts: string[] = [];

  value(value: unknown, generic: boolean): void {
    switch (typeof value) {
      case 'string':
        this.parts.push(goString(value));
        return;
      case 'number':
        this.parts.push(goFloat(value));
        return;
      case 'boolean':
        this.parts.push(value ? 'true' : 'false');
        return;
      case 'undefined':
        this.parts.push('null');
        return;
      case 'object':
        this.object(value, generic);
        return;
      default:
        throw new Error(`goJson: cannot encode a ${typeof value}`);
    }
  }

  private object(value: object | null, generic: boolean): void {
    if (value === null) {
      this.parts.push('null');
    } else if (Array.isArray(value)) {
      this.parts.push('[');
      for (let i = 0; i < value.length; i++) {
        if (i > 0) this.parts.push(',');
        this.value(value[i], generic);
      }
      this.parts.push(']');
    } else if (value instanceof GoAny) {
      this.value(value.value, true);
    } else if (value instanceof Map) {
      this.map(value as Map<unknown, unknown>, generic);
    } else {
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      this.fields(generic ? sortKeysBytewise(keys) : keys, (k) => record[k], generic);
    }
  }

  private map(map: Map<unknown, unknown>, generic: boolean): void {
    const keys: string[] = [];
    for (const k of map.keys()) {
      if (typeof k !== 'string') throw new Error('goJson: map keys must be strings');
      keys.push(k);
    }
    this.fields(sortKeysBytewise(keys), (k) => map.get(k), generic);
  }

  private fields(keys: string[], get: (key: string) => unknown, generic: boolean): void {
    this.parts.push('{');
    for (let i = 0; i < keys.length; i++) {
      this.parts.push(i > 0 ? ',' : '', goString(keys[i]), ':');
      this.value(get(keys[i]), generic);
    }
    this.parts.push('}');
  }
}
