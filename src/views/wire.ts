// How a view builds an answer of a type from answers.ts for the Go-compatible encoder: every
// JSON object with arbitrary keys (a Go map) is a `Map` (written with sorted keys), an object of
// arbitrary JSON (Go's map[string]interface{}) is a `GoAny`, structs stay plain objects whose
// field order is the order written.
import { GoAny, goJson } from '../encode/gojson.js';

export type Wire<T> = unknown extends T
  ? unknown
  : T extends readonly (infer E)[]
    ? Array<Wire<E>>
    : T extends object
      ? string extends keyof T
        ? unknown extends T[string]
          ? GoAny
          : Map<string, Wire<T[string]>>
        : { [K in keyof T]: Wire<T[K]> }
      : T;

/** The Go encoding/json text of an answer of type `A`, built in its wire form. */
export function encodeAnswer<A>(value: Wire<A>): string {
  return goJson(value);
}
