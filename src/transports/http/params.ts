// Query-parameter rules shared by every route, as the Go binary reads them (r.FormValue).

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
