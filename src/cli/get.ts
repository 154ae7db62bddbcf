// `lainlet get ROUTE [k=v ...]`: one answer, printed for a person (pretty) or a pipe (exact bytes).
import { LainletClient } from '../client/client.js';
import { commandHelp, EXIT, parseClientArgs, reportError } from './client-args.js';
import { indentJson } from './pretty.js';

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

const USAGE = `Usage: lainlet get ROUTE [k=v ...] [--addr HOST:PORT] [--pretty|--compact] [--from IP] [--timeout SECS]
  e.g. lainlet get coreinfo appname=hello --addr 127.0.0.1:9001
`;

/** Runs `lainlet get`; resolves with the exit code. */
export async function runGet(argv: string[], io: CliIo = process): Promise<number> {
  try {
    const args = parseClientArgs('get', argv, { pretty: { type: 'boolean' }, compact: { type: 'boolean' } }, io.env);
    if (args.kind === 'help') {
      io.stdout.write(commandHelp(USAGE));
      return EXIT.ok;
    }
    const client = new LainletClient({ addr: args.addr, localAddress: args.from, timeoutMs: args.timeoutMs });
    const answer = await client.getWithMeta(args.route.path, args.params);
    const pretty = args.values.compact ? false : Boolean(args.values.pretty) || io.stdout.isTTY === true;
    io.stdout.write(`${pretty ? indentJson(answer.json) : answer.json}\n`);
    return EXIT.ok;
  } catch (err) {
    return reportError('get', err, io.stderr);
  }
}
