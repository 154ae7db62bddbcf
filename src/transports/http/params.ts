// Query-parameter rules shared by every route, as the Go binary reads them (r.FormValue).

/**
 * A request target's query -> its parameters, parsed as Go's `url.ParseQuery` (Go 1.19, which
 * the Go lainlet 2.4.3 is built with) does, so that odd queries select what they select in Go:
 * pairs split on `&` only; a pair holding `;` is dropped (Go >= 1.17); a pair with a bad `%`
 * escape is dropped; `+` is a space; repeated names keep every value in order (readers take the
 * first, as r.FormValue). Hand-written: WHATWG URLSearchParams and node:querystring split on
 * `;`-free `&` too but keep malformed pairs, which would select something Go never does.
 */
export function goQueryParams(target: string): URLSearchParams {
  const params = new URLSearchParams();
  const q = target.indexOf('?');
  if (q < 0) return params;
  for (const pair of target.slice(q + 1).split('&')) {
    if (pair === '' || pair.includes(';')) continue;
    const eq = pair.indexOf('=');
    const name = queryUnescape(eq < 0 ? pair : pair.slice(0, eq));
    const value = queryUnescape(eq < 0 ? '' : pair.slice(eq + 1));
    if (name !== undefined && value !== undefined) params.append(name, value);
  }
  return params;
}

/** Go's QueryUnescape: `+` -> space, `%XX` -> that byte; undefined for a bad escape. */
function queryUnescape(s: string): string | undefined {
  if (!s.includes('%')) return s.replaceAll('+', ' ');
  if (/%(?![0-9A-Fa-f]{2})/.test(s)) return undefined;
  // Split keeps the escapes (odd indexes) between the text runs (even indexes).
  const parts = s.replaceAll('+', ' ').split(/(%[0-9A-Fa-f]{2})/);
  const bytes = Buffer.concat(parts.map((part, i) => (i % 2 === 1 ? Buffer.of(parseInt(part.slice(1), 16)) : Buffer.from(part, 'utf8'))));
  // Go keeps bytes that are not UTF-8 as they are; a JS string holds U+FFFD instead.
  return bytes.toString('utf8');
}

/** `watch`: absent, empty, `0` and `false` mean no; anything else means yes. */
export function wantsWatch(params: URLSearchParams): boolean {
  const v = params.get('watch');
  return !(v === null || v === '' || v === '0' || v === 'false');
}

/**
 * `heartbeat=N`: seconds between heartbeat events; 0 (none) unless N is a whole number > 0.
 * Capped at a day so a typo cannot overflow the timer.
 */
export function heartbeatSeconds(params: URLSearchParams): number {
  const v = params.get('heartbeat');
  if (v === null || !/^[+-]?\d+$/.test(v)) return 0;
  const n = Number(v);
  return n > 0 ? Math.min(n, 86_400) : 0;
}

/** The caller's IP without port or IPv4-mapped prefix (auth keys on it). */
export function callerIp(remoteAddress: string | undefined): string {
  if (!remoteAddress) return '';
  return remoteAddress.startsWith('::ffff:') ? remoteAddress.slice(7) : remoteAddress;
}
