// `lainlet demo`: a throwaway etcd loaded with the sample cluster, lainlet serving it, and a
// simulated deployd changing it every few seconds. Nothing to set up but etcd itself, which
// this installs when run as root on Debian.
import { startDaemon } from '../daemon/daemon.js';
import type { RunningDaemon } from '../daemon/options.js';
import { DeploydSimulator } from './deployd-sim.js';
import { EtcdHttp } from './etcd-http.js';
import { ensureEtcdInstalled, EtcdProcess } from './etcd-process.js';
import { freeLoopbackPort, isPortFree } from './free-port.js';
import { loadSampleCluster, writeCluster } from './sample-cluster.js';

export interface DemoOptions {
  /** Where lainlet listens; default 127.0.0.1:9001, or a free port if 9001 is taken. */
  web?: string;
  /** Time between two simulated deployd changes; default 3 s. */
  intervalMs?: number;
}

const DEFAULT_PORT = 9001;
/** Apps whose pod groups the simulator scales and moves: `hello` is the one the printed commands watch. */
const SIMULATED_APPS = ['hello', 'console', 'registry'];

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

  try {
    await ensureEtcdInstalled();
    say('demo: starting a throwaway etcd ...');
    etcd = await EtcdProcess.start();
    const http = new EtcdHttp(etcd.url);
    const cluster = await loadSampleCluster();
    await writeCluster(http, cluster);
    say(`demo: etcd on ${etcd.endpoint} (data in ${etcd.dataDir}), loaded the sample cluster: ${Object.keys(cluster).length} keys`);

    const web = opts.web ?? (await defaultWebAddress());
    daemon = await startDaemon({ web, etcd: [etcd.endpoint], ip: '127.0.0.1', hostname: 'node1', debug: false, noAuth: false });
    const base = `http://127.0.0.1:${daemon.httpPort ?? portOf(web)}`;

    simulator = new DeploydSimulator(http, cluster, { intervalMs: opts.intervalMs, apps: SIMULATED_APPS, log: say });
    simulator.start();
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

async function defaultWebAddress(): Promise<string> {
  const port = (await isPortFree(DEFAULT_PORT)) ? DEFAULT_PORT : await freeLoopbackPort();
  return `127.0.0.1:${port}`;
}

function portOf(web: string): string {
  return web.slice(web.lastIndexOf(':') + 1);
}

function tryThis(base: string, intervalMs: number): string {
  return [
    '',
    `lainlet is serving the sample cluster on ${base}; a simulated deployd changes it every ${intervalMs / 1000} s.`,
    'Try, in another terminal:',
    `  curl '${base}/v2/coreinfowatcher?appname=hello'`,
    `  curl -N '${base}/v2/procwatcher?appname=hello&watch=1&heartbeat=5'`,
    `  curl '${base}/v2/webrouter/webprocs'`,
    `  curl -N '${base}/v2/configwatcher?target=features&watch=1'`,
    `  curl '${base}/v2/rebellion/localprocs'      # this node is "node1"`,
    `  curl '${base}/debug'`,
    'Ctrl-C stops everything (lainlet, the simulator, etcd) and removes the temp data.',
    '',
  ].join('\n');
}
