// etcd keys are bytes; lainlet's keys are strings. Decoding every key as UTF-8 would turn each
// invalid byte into U+FFFD, so `zzx\xff` and `zzx\xfe` became one key and deleting one hid the
// other. A key that is not valid UTF-8 gets a form of its own that no valid key can take (it
// starts with a lone surrogate, which no UTF-8 text decodes to); the mirror rejects such keys
// and lists them in /debug, each apart.
import { isUtf8 } from 'node:buffer';

const UNDECODABLE = '\udc00';

/** etcd's key bytes -> lainlet's key: the text when valid UTF-8, else a distinct marked form. */
export function keyFromBytes(bytes: Buffer): string {
  return isUtf8(bytes) ? bytes.toString('utf8') : UNDECODABLE + bytes.toString('hex');
}

/** Was this key made from bytes that are not valid UTF-8? */
export function isUndecodableKey(key: string): boolean {
  return key.startsWith(UNDECODABLE);
}

/** A key for logs and /debug: undecodable keys as their bytes, printable ASCII kept and the rest `\xNN`. */
export function printableKey(key: string): string {
  if (!isUndecodableKey(key)) return key;
  let out = '';
  for (const b of Buffer.from(key.slice(UNDECODABLE.length), 'hex')) {
    out += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** Whether the key bytes start with `prefix`. */
export function hasPrefix(key: Buffer, prefix: Buffer): boolean {
  return key.length >= prefix.length && key.subarray(0, prefix.length).equals(prefix);
}
