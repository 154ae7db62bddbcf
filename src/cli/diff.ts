// `lainlet diff A B`: the switch-over check. Asks two lainlets (e.g. the Go binary on :9001 and
// ours on :9011, side by side on one node) every route for every app, node and config name A
// lists, prints a table per route and the first differences by JSON path, and exits 0 only
// when every answer is equal.
import { parseArgs } from 'node:util';
import { LainletClient } from '../client/client.js';
import { LainletConnectionError } from '../client/errors.js';
import { checkSwitchOver, type QueryResult, type SwitchCheckReport } from '../client/switch-check.js';
import { EXIT, reportError } from './client-args.js';
import type { CliIo } from './get.js';
import { optionMessage, UsageError } from './flags.js';

const USAGE = `Usage: lainlet diff A B [--for SECS] [--from IP] [--settle SECS] [--show N] [--timeout SECS]
  Compare two lainlets (HOST:PORT each), e.g. the Go binary and this one side by side on a node:
    lainlet diff 127.0.0.1:9001 127.0.0.1:9011
  Asks both every route with its defaults, then once per app, node, config key, depends name and
  app IP that A lists, as a local caller (or as --from IP); compares the JSON (lists the Go
  binary writes in map order as sets); prints a table per route and the first differences by
  JSON path.
  --for SECS     keep comparing for SECS while the cluster changes: a difference is re-checked
                 until both answers have held still for --settle SECS (default 2), and only what
                 stays different is reported
  --from IP      source address of the compared GETs: compare as the app with this IP sees it
                 (the names are still read from A as a local caller)
  --show N       differences to print (default 10)
  --timeout SECS bound on each GET (default 10)
  Exit codes: 0 every answer equal, 1 some differ or failed, 2 usage, 3 cannot reach A or B.
`;

function seconds(name: string, v: string | undefined, dflt: number, allowZero = false): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) throw new UsageError(`diff: --${name} wants a number of seconds, not ${JSON.stringify(v)}`);
  return n;
}

function pad(s: string | number, n: number, right = false): string {
  const t = String(s);
  return right ? t.padStart(n) : t.padEnd(n);
}

/** One row per route: how many of its queries were equal, differed, failed. */
export function routeTable(results: QueryResult[]): string {
  const rows = new Map<string, { n: number; equal: number; differ: number; error: number }>();
  for (const r of results) {
    const row = rows.get(r.query.route.path) ?? { n: 0, equal: 0, differ: 0, error: 0 };
    row.n++;
    row[r.outcome.kind]++;
    rows.set(r.query.route.path, row);
  }
  const lines = [`${pad('route', 30)}${pad('queries', 8, true)}${pad('equal', 8, true)}${pad('differ', 8, true)}${pad('error', 8, true)}  result`];
  for (const [path, row] of rows) {
    const result = row.error ? 'error' : row.differ ? 'differ' : 'equal';
    lines.push(`${pad(path, 30)}${pad(row.n, 8, true)}${pad(row.equal, 8, true)}${pad(row.differ, 8, true)}${pad(row.error, 8, true)}  ${result}`);
  }
  return `${lines.join('\n')}\n`;
}

function clip(s: string | undefined, n = 100): string {
  if (s === undefined) return '(absent)';
  return s.length > n ? `${s.slice(0, n)}...` : s;
}

/** The first `show` differences and errors, one line each. */
export function differenceLines(results: QueryResult[], show: number): string[] {
  const lines: string[] = [];
  let more = 0;
  for (const { query, outcome } of results) {
    if (outcome.kind === 'equal') continue;
    const items =
      outcome.kind === 'error'
        ? [`${query.pathQuery}: error: ${outcome.message}`]
        : outcome.differences.map((d) => `${query.pathQuery}: ${d.path}: A ${clip(d.a)}, B ${clip(d.b)}${outcome.settled ? '' : ' (still changing)'}`);
    for (const item of items) {
      if (lines.length < show) lines.push(`  ${item}`);
      else more++;
    }
  }
  if (more > 0) lines.push(`  ... and ${more} more (--show N)`);
  return lines;
}

export function formatReport(a: string, b: string, report: SwitchCheckReport, show: number): string {
  const { names, results } = report;
  const out: string[] = [
    `names from A: ${names.apps.length} apps, ${names.nodes.length} nodes, ${names.config.length} config keys, ${names.depends.length} depends, ${names.appIps.length} app IPs; ${results.length} queries${report.passes > 1 ? `, ${report.passes} passes` : ''}`,
  ];
  for (const u of names.unavailable) out.push(`  (A would not list ${u})`);
  out.push('', routeTable(results));
  const lines = differenceLines(results, show);
  if (lines.length) out.push(`First differences (A = ${a}, B = ${b}):`, ...lines, '');
  const differ = results.filter((r) => r.outcome.kind === 'differ').length;
  const errors = results.filter((r) => r.outcome.kind === 'error').length;
  out.push(differ + errors === 0 ? `all ${results.length} answers equal` : `${differ} of ${results.length} answers differ, ${errors} failed`);
  return `${out.join('\n')}\n`;
}

/** Runs `lainlet diff`; resolves with the exit code. */
export async function runDiff(argv: string[], io: CliIo & { signal?: AbortSignal } = process): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        options: {
          for: { type: 'string' },
          from: { type: 'string' },
          settle: { type: 'string' },
          show: { type: 'string' },
          timeout: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
        allowPositionals: true,
      });
    } catch (err) {
      throw new UsageError(`diff: ${optionMessage(err)} (see lainlet diff --help)`);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      io.stdout.write(USAGE);
      return EXIT.ok;
    }
    if (positionals.length !== 2) throw new UsageError(`diff: expected two lainlet addresses A and B, got ${positionals.length}\n\n${USAGE}`);
    const [a, b] = positionals;
    const show = seconds('show', values.show, 10, true);
    const opts = {
      a,
      b,
      from: values.from,
      forMs: seconds('for', values.for, 0, true) * 1000,
      settleMs: seconds('settle', values.settle, 2) * 1000,
      timeoutMs: seconds('timeout', values.timeout, 10) * 1000,
      signal: io.signal,
    };
    // Reach both first: a wrong address is a usage problem, not a hundred failed comparisons.
    const versions: string[] = [];
    for (const [label, addr] of [['A', a], ['B', b]] as const) {
      try {
        versions.push(`${label} ${addr}: ${await new LainletClient({ addr, localAddress: opts.from, timeoutMs: opts.timeoutMs }).version()}`);
      } catch (err) {
        if (err instanceof LainletConnectionError) {
          io.stderr.write(`lainlet diff: cannot reach ${label} (${addr}): ${err.message}\n`);
          return EXIT.cannotConnect;
        }
        throw err;
      }
    }
    io.stdout.write(`${versions.join('\n')}\n`);
    const report = await checkSwitchOver({
      ...opts,
      onPass: opts.forMs > 0 ? (pass, results) => io.stderr.write(`lainlet diff: pass ${pass}: ${results.filter((r) => r.outcome.kind !== 'equal').length} of ${results.length} differ\n`) : undefined,
    });
    io.stdout.write(formatReport(a, b, report, show));
    return report.results.every((r) => r.outcome.kind === 'equal') ? EXIT.ok : EXIT.lainletError;
  } catch (err) {
    return reportError('diff', err, io.stderr);
  }
}
