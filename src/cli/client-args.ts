// The arguments `lainlet get` and `lainlet watch` share: ROUTE, k=v params, --addr, --from.
import { parseArgs } from 'node:util';
import { LainletConnectionError, LainletError, LainletProtocolError } from '../client/errors.js';
import { findRoute, routesHelp, type RouteInfo } from '../client/routes.js';
import { optionMessage, UsageError } from './flags.js';

/** Exit codes of the client subcommands. */
export const EXIT = { ok: 0, lainletError: 1, usage: 2, cannotConnect: 3 } as const;

export const COMMON_OPTIONS = {
  addr: { type: 'string' },
  from: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const CLIENT_HELP = `Client subcommands:
  lainlet get ROUTE [k=v ...] [--addr HOST:PORT] [--pretty|--compact]
        print a route's answer: pretty JSON on a terminal, compact (lainlet's exact bytes) when piped
  lainlet watch ROUTE [k=v ...] [--addr HOST:PORT] [--json] [--heartbeat N] [--count N]
        print one line per event: time, event, id, revision and what changed (keys added,
        removed, changed); --json prints JSON lines with the whole answer; reconnects by itself
  lainlet diff A B [--for SECS] [--from IP]
        the switch-over check: compare two lainlets (e.g. the Go binary and this one) on every
        route for every app, node and config name; exit 0 only when every answer is equal

  --addr HOST:PORT   lainlet to ask (default $LAINLET_ADDR or 127.0.0.1:9001)
  --from IP          source address of the connection (lainlet authorizes callers by IP)
  --timeout SECS     bound on a GET (default 10)
  Exit codes: 0 ok, 1 lainlet answered an error (4xx/5xx), 2 usage, 3 cannot connect.
`;

export interface ClientArgs {
  route: RouteInfo;
  params: Record<string, string>;
  addr: string;
  from: string | undefined;
  timeoutMs: number;
  values: Record<string, string | boolean | undefined>;
}

export type ParsedClientArgs = { kind: 'help' } | ({ kind: 'run' } & ClientArgs);

export function parseClientArgs(
  command: string,
  argv: string[],
  extra: Record<string, { type: 'string' | 'boolean' }>,
  env: NodeJS.ProcessEnv,
): ParsedClientArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...extra }, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`${command}: ${optionMessage(err)} (see lainlet ${command} --help)`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return { kind: 'help' };
  const [routeArg, ...rest] = parsed.positionals;
  if (routeArg === undefined) throw new UsageError(`${command}: ROUTE is required`);
  const route = findRoute(routeArg);
  if (!route) throw new UsageError(`${command}: unknown route ${JSON.stringify(routeArg)} (see lainlet ${command} --help)`);
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new UsageError(`${command}: expected k=v, got ${JSON.stringify(p)}`);
    const key = p.slice(0, eq);
    if (!Object.hasOwn(route.params, key)) {
      const known = Object.keys(route.params).join(', ') || 'none';
      throw new UsageError(`${command}: ${route.name} has no parameter ${JSON.stringify(key)} (parameters: ${known})`);
    }
    params[key] = p.slice(eq + 1);
  }
  const timeout = values.timeout === undefined ? 10 : Number(values.timeout);
  if (!(timeout > 0)) throw new UsageError(`${command}: --timeout must be a positive number of seconds`);
  return {
    kind: 'run',
    route,
    params,
    addr: (values.addr as string | undefined) ?? (env.LAINLET_ADDR || '127.0.0.1:9001'),
    from: values.from as string | undefined,
    timeoutMs: timeout * 1000,
    values,
  };
}

export function commandHelp(usage: string): string {
  return `${usage}\n${CLIENT_HELP}\n${routesHelp(true)}`;
}

/** An error of the client as a message on stderr and an exit code. */
export function reportError(command: string, err: unknown, stderr: NodeJS.WritableStream): number {
  if (err instanceof UsageError) {
    stderr.write(`lainlet ${err.message}\n`);
    return EXIT.usage;
  }
  if (err instanceof LainletError) {
    stderr.write(`lainlet ${command}: lainlet answered ${err.status}: ${err.message}\n`);
    return EXIT.lainletError;
  }
  if (err instanceof LainletConnectionError) {
    stderr.write(`lainlet ${command}: cannot reach lainlet: ${err.message}\n`);
    return EXIT.cannotConnect;
  }
  if (err instanceof LainletProtocolError) {
    stderr.write(`lainlet ${command}: ${err.message}\n`);
    return EXIT.lainletError;
  }
  if (err instanceof TypeError && /lainlet address/.test(err.message)) {
    stderr.write(`lainlet ${command}: ${err.message}\n`);
    return EXIT.usage;
  }
  throw err;
}
