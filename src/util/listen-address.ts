// Listen addresses in Go's form (`:9001`, `127.0.0.1:9001`, `[::1]:9001`): checked by the flag
// parser before anything starts, and split by the daemon when it listens.

const FORM = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/;

/** What is wrong with a listen address, or undefined when it is usable. */
export function listenAddressProblem(addr: string): string | undefined {
  const m = FORM.exec(addr.trim());
  if (!m) return 'expected HOST:PORT or :PORT';
  if (Number(m[3]) > 65_535) return 'port out of range (0-65535)';
  return undefined;
}

export function parseListenAddress(addr: string): { host: string | undefined; port: number } {
  const problem = listenAddressProblem(addr);
  if (problem) throw new Error(`bad listen address ${JSON.stringify(addr)}: ${problem}`);
  const m = FORM.exec(addr.trim())!;
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port: Number(m[3]) };
}
