// `lainlet demo`: a throwaway etcd loaded with the sample cluster, lainlet serving it, and a
// simulated deployd changing it every few seconds. Nothing to set up but etcd itself, which
// this installs when run as root on Debian.
import { parseArgs } from 'node:util';
import { optionMessage, UsageError } from '../cli/flags.js';
import { startDaemon } from '../daemon/daemon.js';
import type { RunningDaemon } from '../daemon/options.js';
import { parseListenAddress } from '../util/listen-address.js';
import { createLogger, logLevelProblem } from '../util/log.js';
import { DeploydSimulator } from './deployd-sim.js';
import { EtcdHttp } from './etcd-http.js';
import { ensureEtcdInstalled, EtcdProcess } from './etcd-process.js';
import { isPortFree } from './free-port.js';
import { loadSampleCluster, writeCluster } from './sample-cluster.js';

export interface DemoOptions {
  /** Where lainlet listens; default 127.0.0.1:9001. A port in use is an error. */
  web?: string;
  /** Time between two simulated deployd changes; default 3 s. */
  intervalMs?: number;
}

const DEFAULT_WEB = '127.0.0.1:9001';
/** The app the printed commands watch: the simulator changes it every other step. */
const WATCHED_APP = 'hello';
/** Apps whose pod groups the simulator scales and moves in its other steps. */
const SIMULATED_APPS = ['hello', 'console', 'registry'];

const DEMO_USAGE = `Usage: lainlet demo [--web HOST:PORT | --port N] [--interval SECS]
  Runs lainlet on a built-in sample cluster: starts a throwaway etcd (installs etcd-server when
  missing and root), loads the sample cluster, serves it, and changes it every few seconds the
  way deployd would, so that watches show live events. Ctrl-C stops everything it started.
  --web HOST:PORT   where lainlet listens (default ${DEFAULT_WEB}); a port in use is an error
  --port N          the same as --web 127.0.0.1:N
  --interval SECS   time between two simulated deployd changes (default 3)
  lainlet's own log goes to stderr at level warn (LAINLET_LOG_LEVEL=info shows more).
`;

/** `lainlet demo [flags]`: parses its flags, then runs the demo. Resolves with the exit code. */
export async function runDemoCommand(argv: string[]): Promise<number> {
  let opts: DemoOptions;
  try {
    const { values } = (() => {
      try {
        return parseArgs({
          args: argv,
          options: { web: { type: 'string' }, port: { type: 'string' }, interval: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
          strict: true,
          allowPositionals: false,
        });
      } catch (err) {
        throw new UsageError(`demo: ${optionMessage(err)} (see lainlet demo --help)`);
      }
    })();
    if (values.help) {
      process.stdout.write(DEMO_USAGE);
      return 0;
    }
    const web = values.web ?? (values.port === undefined ? DEFAULT_WEB : `127.0.0.1:${values.port}`);
    try {
      parseListenAddress(web);
    } catch (err) {
      throw new UsageError(`demo: --web: ${(err as Error).message}`);
    }
    const interval = values.interval === undefined ? 3 : Number(values.interval);
    if (!(interval > 0)) throw new UsageError(`demo: --interval wants a number of seconds > 0, not ${JSON.stringify(values.interval)}`);
    const logProblem = logLevelProblem(process.env.LAINLET_LOG_LEVEL);
    if (logProblem) throw new UsageError(logProblem);
    opts = { web, intervalMs: interval * 1000 };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`lainlet ${err.message}\n\n${DEMO_USAGE}`);
    return 2;
  }
  await runDemo(opts);
  return 0;
}

/** Runs until SIGINT/SIGTERM, then stops everything it started and exits 0. */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  let etcd: EtcdProcess | undefined;
  let daemon: RunningDaemon | undefined;
  let simulator: DeploydSimulator | undefined;

  const stopAll = async (): Promise<void> => {
    await simulator?.stop();
    await daemon?.close();
    await etcd?.stop();
  };

  const web = opts.web ?? DEFAULT_WEB;
  // Before etcd starts: a busy port is the user's to resolve, not to be silently moved.
  const { host, port } = parseListenAddress(web);
  if (port !== 0 && !(await isPortFree(port, host ?? '0.0.0.0'))) {
    throw new Error(`demo: ${web} is in use (another lainlet or demo?); choose another with lainlet demo --web 127.0.0.1:PORT`);
  }
  try {
    await ensureEtcdInstalled();
    say('demo: starting a throwaway etcd ...');
    etcd = await EtcdProcess.start();
    const http = new EtcdHttp(etcd.url);
    const cluster = await loadSampleCluster();
    await writeCluster(http, cluster);
    say(`demo: etcd on ${etcd.endpoint} (data in ${etcd.dataDir}), loaded the sample cluster: ${Object.keys(cluster).length} keys`);

    // The banner is for a person: lainlet's JSON log lines stay out of it unless something is wrong.
    const logger = createLogger(false, 'warn');
    daemon = await startDaemon({ web, etcd: [etcd.endpoint], ip: '127.0.0.1', hostname: 'node1', debug: false, noAuth: false, logger });
    const base = `http://${hostOf(web)}:${daemon.httpPort ?? parseListenAddress(web).port}`;

    simulator = new DeploydSimulator(http, cluster, { intervalMs: opts.intervalMs, apps: SIMULATED_APPS, watchedApp: WATCHED_APP, log: say });
    simulator.start();
    // A newcomer tries the banner's lines at once: they must not get the 503 of a lainlet still reading etcd.
    await daemon.synced();
    say(tryThis(base, opts.intervalMs ?? 3_000));
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  say(`\ndemo: ${signal}: stopping the simulator, lainlet and etcd ...`);
  // A second Ctrl-C (or a hang) must not leave the user stuck; etcd is killed on exit anyway.
  process.once('SIGINT', () => process.exit(130));
  setTimeout(() => process.exit(1), 15_000).unref();
  await stopAll();
  say('demo: stopped.');
  process.exit(0);
}

function hostOf(web: string): string {
  const host = parseListenAddress(web).host;
  if (host === undefined || host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function tryThis(base: string, intervalMs: number): string {
  return [
    '',
    `lainlet is serving the sample cluster on ${base}; a simulated deployd changes it every ${intervalMs / 1000} s.`,
    'Try, in another terminal:',
    `  curl '${base}/v2/coreinfowatcher?appname=${WATCHED_APP}'`,
    `  curl -N '${base}/v2/procwatcher?appname=${WATCHED_APP}&watch=1&heartbeat=5'   # changes every ${(2 * intervalMs) / 1000} s`,
    `  curl '${base}/v2/webrouter/webprocs'`,
    `  curl -N '${base}/v2/configwatcher?target=features&watch=1'`,
    `  curl '${base}/v2/rebellion/localprocs'      # this node is "node1"`,
    `  curl '${base}/debug'`,
    'Ctrl-C stops everything (lainlet, the simulator, etcd) and removes the temp data.',
    '',
  ].join('\n');
}
