// The Go binary's flags (SPEC §7), accepted in Go's single-dash form (`-web :9001`,
// `-debug=true`) and in `--long` form. Parsed with node's util.parseArgs after normalizing Go
// spellings, so the rules stay those of a well-kept parser.
import { parseArgs } from 'node:util';
import type { DaemonOptions } from '../daemon/options.js';

const STRING_FLAGS = ['web', 'etcd', 'ip', 'grpc.addr', 'grpc.key', 'grpc.cert', 'max-watchers', 'stall-timeout'] as const;
const BOOL_FLAGS = ['debug', 'noauth', 'v', 'version', 'help', 'h', 'grpc.TLS', 'register'] as const;
/** Booleans that are on unless turned off (`-register=false`), parsed as their `no-` form. */
const DEFAULT_TRUE_FLAGS: readonly string[] = ['register'];

export const FLAGS_HELP = `Usage: lainlet -web ADDR -etcd HOST:PORT[,HOST:PORT...] -ip IP [flags]
       lainlet demo            run on a built-in sample cluster (starts its own etcd)

Flags (Go's -flag and --flag forms both work):
  -web ADDR          HTTP listen address, e.g. :9001 or 127.0.0.1:9001
  -etcd ENDPOINTS    etcd v3 client endpoints, comma separated, with or without http://
  -ip IP             this node's IP: a local caller for auth, localspecquery's default
  -grpc.addr ADDR    gRPC listen address
  -grpc.TLS          serve gRPC over TLS (with -grpc.key and -grpc.cert)
  -grpc.key FILE     TLS private key
  -grpc.cert FILE    TLS certificate
  -noauth            do not check callers
  -max-watchers N    open watch streams beyond N get 503 (default 20000)
  -stall-timeout S   drop a watcher that has not read for S seconds (default 60)
  -register=false    do not publish this lainlet under /lain/lainlet/instances/ (default on)
  -debug             debug logging
  -v                 print the version and exit
`;

export class UsageError extends Error {}

export type ParsedFlags = { kind: 'version' } | { kind: 'help' } | { kind: 'run'; options: DaemonOptions };

/** `-x`, `-x=v`, `--x=v` -> `--x`, `--x=v`; `-debug=false` style booleans become present/absent. */
function normalize(argv: string[]): string[] {
  const out: string[] = [];
  for (const arg of argv) {
    const m = /^--?([A-Za-z][\w.-]*)(?:=(.*))?$/.exec(arg);
    if (!m) {
      out.push(arg);
      continue;
    }
    const [, name, value] = m;
    if ((BOOL_FLAGS as readonly string[]).includes(name) && value !== undefined) {
      if (!/^(1|t|true|0|f|false)$/i.test(value)) throw new UsageError(`invalid boolean value ${JSON.stringify(value)} for -${name}`);
      if (/^(1|t|true)$/i.test(value)) out.push(`--${name}`);
      else if (DEFAULT_TRUE_FLAGS.includes(name)) out.push(`--no-${name}`);
      continue;
    }
    out.push(value === undefined ? `--${name}` : `--${name}=${value}`);
  }
  return out;
}

export function parseFlags(argv: string[]): ParsedFlags {
  const options = Object.fromEntries([
    ...STRING_FLAGS.map((f) => [f, { type: 'string' as const }]),
    ...BOOL_FLAGS.map((f) => [f, { type: 'boolean' as const }]),
    ...DEFAULT_TRUE_FLAGS.map((f) => [`no-${f}`, { type: 'boolean' as const }]),
  ]);
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: normalize(argv), options, strict: true, allowPositionals: false }).values as typeof values;
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/--/g, '-'));
  }
  if (values.v || values.version) return { kind: 'version' };
  if (values.help || values.h) return { kind: 'help' };
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const web = str('web');
  const grpcAddr = str('grpc.addr');
  if (!web && !grpcAddr) throw new UsageError('one of -web and -grpc.addr is required');
  const etcd = (str('etcd') ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (etcd.length === 0) throw new UsageError('-etcd is required (e.g. -etcd 127.0.0.1:2379)');
  const tls = etcd.find((e) => e.startsWith('https://'));
  if (tls) throw new UsageError(`-etcd ${tls}: TLS to etcd is not supported; give a plain host:port`);
  const ip = str('ip') ?? '';
  if (values['grpc.TLS'] && (!str('grpc.key') || !str('grpc.cert'))) throw new UsageError('-grpc.TLS needs -grpc.key and -grpc.cert');
  return {
    kind: 'run',
    options: {
      maxWatchers: positiveInt(str('max-watchers'), '-max-watchers'),
      stallTimeoutMs: seconds(str('stall-timeout'), '-stall-timeout'),
      web,
      etcd,
      ip,
      debug: Boolean(values.debug),
      noAuth: Boolean(values.noauth),
      grpcAddr,
      grpcTls: Boolean(values['grpc.TLS']),
      grpcKey: str('grpc.key'),
      grpcCert: str('grpc.cert'),
      register: !values['no-register'],
    },
  };
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${flag} wants a whole number > 0, not ${JSON.stringify(value)}`);
  return Number(value);
}

/** Seconds (`60`, `0.5`) or a Go-style duration (`90s`, `2m`) -> milliseconds. */
function seconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value);
  if (!m || Number(m[1]) <= 0) throw new UsageError(`${flag} wants a duration like 60, 60s or 2m, not ${JSON.stringify(value)}`);
  const unit = m[2] ?? 's';
  return Number(m[1]) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : 60_000);
}
