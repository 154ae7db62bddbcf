// `lainlet watch ROUTE [k=v ...]`: one line per event with what changed, until Ctrl-C.
import { LainletClient } from '../client/client.js';
import { describeAnswer, diffAnswers, formatSummary, type ChangeSummary } from '../client/diff.js';
import { LainletConnectionError } from '../client/errors.js';
import { commandHelp, EXIT, parseClientArgs, reportError } from './client-args.js';
import type { CliIo } from './get.js';
import { UsageError } from './flags.js';

const USAGE = `Usage: lainlet watch ROUTE [k=v ...] [--addr HOST:PORT] [--json] [--heartbeat N] [--count N] [--from IP]
  e.g. lainlet watch webprocs --json | jq .summary
  --json          one JSON line per event: {time, event, id, revision, summary, added, removed, changed, data}
  --heartbeat N   heartbeat period asked of lainlet, seconds (default 10); 3 silent periods = reconnect
  --count N       exit (0) after N events
`;

export interface WatchIo extends CliIo {
  /** Ends the watch (Ctrl-C); default: SIGINT and SIGTERM. */
  signal?: AbortSignal;
  now?: () => Date;
}

function positiveInt(command: string, name: string, v: string | boolean | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${command}: --${name} must be a whole number > 0`);
  return n;
}

/** Runs `lainlet watch`; resolves with the exit code. */
export async function runWatch(argv: string[], io: WatchIo = process): Promise<number> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  const external = io.signal;
  if (external) external.addEventListener('abort', onSignal, { once: true });
  else {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    const args = parseClientArgs('watch', argv, { json: { type: 'boolean' }, heartbeat: { type: 'string' }, count: { type: 'string' } }, io.env);
    if (args.kind === 'help') {
      io.stdout.write(commandHelp(USAGE));
      return EXIT.ok;
    }
    if (!args.route.watchable) throw new UsageError(`watch: ${args.route.name} (${args.route.path}) cannot be watched; use lainlet get`);
    const heartbeat = positiveInt('watch', 'heartbeat', args.values.heartbeat, 10);
    const count = positiveInt('watch', 'count', args.values.count, Number.MAX_SAFE_INTEGER);
    const client = new LainletClient({ addr: args.addr, localAddress: args.from, timeoutMs: args.timeoutMs });
    const now = io.now ?? (() => new Date());
    let seen = 0;
    let previous: unknown;
    let exitCode: number = EXIT.ok;
    const events = client.watch(args.route.path, args.params, {
      signal: stop.signal,
      heartbeatSeconds: heartbeat,
      onError(err, retry) {
        // Nothing received yet and nothing to connect to: a wrong address, not a restart.
        if (seen === 0 && err instanceof LainletConnectionError) {
          exitCode = reportError('watch', err, io.stderr);
          stop.abort();
          return;
        }
        io.stderr.write(`lainlet watch: ${err.message}; reconnecting in ${(retry.delayMs / 1000).toFixed(1)}s\n`);
      },
    });
    for await (const ev of events) {
      const first = seen === 0;
      const diff: ChangeSummary = first ? { added: [], removed: [], changed: [] } : diffAnswers(previous, ev.data);
      const summary = first ? describeAnswer(ev.data) : formatSummary(diff);
      previous = ev.data;
      seen++;
      const time = now().toISOString();
      if (args.values.json) {
        const head = JSON.stringify({ time, event: ev.event, id: ev.id, revision: ev.revision ?? null, summary, ...diff });
        io.stdout.write(`${head.slice(0, -1)},"data":${ev.json}}\n`);
      } else {
        const rev = ev.revision === undefined ? '' : ` rev=${ev.revision}`;
        io.stdout.write(`${time} ${ev.event} id=${ev.id}${rev} ${summary}\n`);
      }
      if (seen >= count) break;
    }
    return exitCode;
  } catch (err) {
    return reportError('watch', err, io.stderr);
  } finally {
    if (external) external.removeEventListener('abort', onSignal);
    else {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}
