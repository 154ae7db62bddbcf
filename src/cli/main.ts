// The `lainlet` command: the daemon (Go-compatible flags) and its subcommands.
import { pathToFileURL } from 'node:url';
import { FLAGS_HELP, parseFlags, UsageError } from './flags.js';
import { startDaemon } from '../daemon/daemon.js';
import { routesHelp } from '../client/routes.js';
import { CLIENT_HELP } from './client-args.js';
import { VERSION_LINE } from '../version.js';
import { stopWhenNpmParentExits } from './npm-parent.js';

async function runDaemon(argv: string[]): Promise<void> {
  const parsed = parseFlags(argv);
  if (parsed.kind === 'version') {
    process.stdout.write(`${VERSION_LINE}\n`);
    return;
  }
  if (parsed.kind === 'help') {
    process.stdout.write(`${FLAGS_HELP}\n${CLIENT_HELP}\n${routesHelp()}`);
    return;
  }
  const daemon = await startDaemon(parsed.options);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`lainlet: ${signal}, closing streams\n`);
    // Bounded: streams are ended at once; whatever still hangs is cut after 4 s.
    setTimeout(() => process.exit(0), 4_000).unref();
    daemon.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

export async function main(argv: string[]): Promise<void> {
  stopWhenNpmParentExits();
  try {
    if (argv[0] === 'get' || argv[0] === 'watch' || argv[0] === 'diff') {
      const commands = { get: async () => (await import('./get.js')).runGet, watch: async () => (await import('./watch.js')).runWatch, diff: async () => (await import('./diff.js')).runDiff };
      process.exitCode = await (await commands[argv[0]]())(argv.slice(1));
      return;
    }
    if (argv[0] === 'demo') {
      const { runDemoCommand } = await import('../demo/demo.js');
      process.exitCode = await runDemoCommand(argv.slice(1));
      return;
    }
    await runDaemon(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`lainlet: ${err.message}\n\n${FLAGS_HELP}`);
      process.exit(2);
    }
    process.stderr.write(`lainlet: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

// Run directly (`node --import tsx src/cli/main.ts ...`), not only through bin/lainlet.js.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void main(process.argv.slice(2));
