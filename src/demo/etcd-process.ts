// A throwaway single-member etcd for the demo and the integration tests: loopback ports, a
// temp data dir, and the handles tests need to break it on purpose (kill, freeze, restart).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeLoopbackPorts } from './free-port.js';
import { OutputTail } from './output-tail.js';

export interface EtcdStartOptions {
  /** Path of the etcd binary; default: `etcd` from PATH, installed if missing (see ensureEtcdInstalled). */
  binary?: string;
  /** How long to wait for `/health` after each (re)start. Default 15 s. */
  startTimeoutMs?: number;
  /** How long `stop()`/`restart()` wait after SIGTERM before SIGKILL. Default 5 s. */
  stopTimeoutMs?: number;
  /** Also pass etcd's output here (it is always kept, see `log()`). */
  onOutput?: (text: string) => void;
  /** More etcd flags, e.g. `--max-request-bytes=8388608` for tests that write huge values. */
  extraArgs?: string[];
}

/** Membership of a multi-member cluster (see EtcdProcess.startCluster). */
interface Membership {
  name: string;
  initialCluster: string;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

const MEMBER_NAME = 'lainlet-test';
const START_ATTEMPTS = 3;

export class EtcdProcess {
  /** `127.0.0.1:PORT`, the form lainlet's `-etcd` flag takes. */
  readonly endpoint: string;
  /** `http://127.0.0.1:PORT`, for the v3 JSON gateway (see EtcdHttp). */
  readonly url: string;
  private child: ChildProcess | undefined;
  private exited: Promise<Exit> = Promise.resolve({ code: null, signal: null });
  private readonly output = new OutputTail();

  /** Start etcd and wait until it is healthy. */
  static async start(opts: EtcdStartOptions = {}): Promise<EtcdProcess> {
    const binary = opts.binary ?? (await ensureEtcdInstalled());
    for (let attempt = 1; ; attempt++) {
      const dataDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'lainlet-etcd-'));
      const [clientPort, peerPort] = await freeLoopbackPorts(2);
      const etcd = new EtcdProcess(binary, dataDir, clientPort, peerPort, opts);
      try {
        await etcd.launch();
        return etcd;
      } catch (err) {
        await etcd.stop();
        // The ports were free a moment ago; another process may have taken one since.
        if (attempt < START_ATTEMPTS && /address already in use/i.test(etcd.log())) continue;
        throw err;
      }
    }
  }

  /**
   * A cluster of `size` members on loopback, each healthy before this resolves; stop() each.
   * Tests use it to kill the member lainlet is talking to.
   */
  static async startCluster(size: number, opts: EtcdStartOptions = {}): Promise<EtcdProcess[]> {
    const binary = opts.binary ?? (await ensureEtcdInstalled());
    const ports = await freeLoopbackPorts(size * 2);
    const names = Array.from({ length: size }, (_, i) => `member${i}`);
    const initialCluster = names.map((n, i) => `${n}=http://127.0.0.1:${ports[size + i]}`).join(',');
    const members: EtcdProcess[] = [];
    for (let i = 0; i < size; i++) {
      const dataDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'lainlet-etcd-'));
      members.push(new EtcdProcess(binary, dataDir, ports[i], ports[size + i], opts, { name: names[i], initialCluster }));
    }
    try {
      // Together: a member is healthy only once a quorum is up.
      await Promise.all(members.map((m) => m.launch()));
      return members;
    } catch (err) {
      await Promise.all(members.map((m) => m.stop()));
      throw err;
    }
  }

  private constructor(
    private readonly binary: string,
    readonly dataDir: string,
    readonly clientPort: number,
    readonly peerPort: number,
    private readonly opts: EtcdStartOptions,
    private readonly membership?: Membership,
  ) {
    this.endpoint = `127.0.0.1:${clientPort}`;
    this.url = `http://${this.endpoint}`;
  }

  /** The running etcd's process id (undefined when it is not running). */
  get pid(): number | undefined {
    return this.isRunning ? this.child?.pid : undefined;
  }

  get isRunning(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last part of etcd's output, for diagnostics. */
  log(maxChars?: number): string {
    return this.output.text(maxChars);
  }

  /** Send a signal as is (tests: SIGKILL to crash it, SIGSTOP/SIGCONT to freeze it). */
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    return this.isRunning ? this.child!.kill(signal) : false;
  }

  /** Make etcd hang (connections stay open, nothing answers) until `thaw()`. */
  freeze(): boolean {
    return this.kill('SIGSTOP');
  }

  thaw(): boolean {
    return this.kill('SIGCONT');
  }

  /** Stop etcd (if running) and start it again on the same ports with the same data. */
  async restart(): Promise<void> {
    await this.terminate();
    await this.launch();
  }

  /** Stop etcd and remove its data dir. Safe to call more than once. */
  async stop(): Promise<void> {
    await this.terminate();
    liveProcesses.delete(this);
    await fs.promises.rm(this.dataDir, { recursive: true, force: true });
  }

  private args(): string[] {
    const client = `http://127.0.0.1:${this.clientPort}`;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const name = this.membership?.name ?? MEMBER_NAME;
    return [
      `--name=${name}`,
      `--data-dir=${this.dataDir}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=${this.membership?.initialCluster ?? `${name}=${peer}`}`,
      '--initial-cluster-token=lainlet-test',
      '--initial-cluster-state=new',
      '--enable-v2=false',
      '--logger=zap',
      '--log-outputs=stderr',
      ...(this.opts.extraArgs ?? []),
    ];
  }

  private async launch(): Promise<void> {
    // Its own process group: a terminal's Ctrl-C reaches the demo, which then stops lainlet
    // before etcd (instead of etcd dying first under a still-running lainlet).
    const child = spawn(this.binary, this.args(), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    trackForExitCleanup(this);
    this.output.append(`--- etcd started: ${this.binary} ${this.args().join(' ')}\n`);
    for (const stream of [child.stdout, child.stderr]) {
      this.output.follow(stream);
      if (this.opts.onOutput) stream?.on('data', (text: string) => this.opts.onOutput?.(text));
    }
    this.exited = new Promise<Exit>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    await this.waitHealthy(this.opts.startTimeoutMs ?? 15_000);
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exit: Exit | undefined;
    void this.exited.then((e) => (exit = e));
    while (Date.now() < deadline) {
      if (exit) {
        const how = exit.error ? exit.error.message : `code ${exit.code}, signal ${exit.signal}`;
        throw new Error(`etcd exited before it was healthy (${how}). Last lines of its log:\n${this.output.lastLines(30)}`);
      }
      if (await this.answersHealthy()) return;
      await sleep(100);
    }
    throw new Error(
      `etcd did not answer ${this.url}/health within ${timeoutMs} ms. Last lines of its log:\n${this.output.lastLines(30)}`,
    );
  }

  private async answersHealthy(): Promise<boolean> {
    try {
      const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { health?: unknown };
      return res.ok && body.health === 'true';
    } catch {
      return false;
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within the stop timeout. */
  private async terminate(): Promise<void> {
    if (!this.isRunning) return;
    const child = this.child!;
    const timeoutMs = this.opts.stopTimeoutMs ?? 5_000;
    child.kill('SIGTERM');
    child.kill('SIGCONT'); // a frozen etcd handles the SIGTERM only once it runs again
    if (await exitsWithin(this.exited, timeoutMs)) return;
    child.kill('SIGKILL');
    if (!(await exitsWithin(this.exited, timeoutMs))) {
      throw new Error(`etcd (pid ${child.pid}) did not exit after SIGKILL`);
    }
  }

  /** Last resort when the test process exits without stop(): no etcd or data dir left behind. */
  killNowSync(): void {
    if (this.isRunning) this.child!.kill('SIGKILL');
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Start a throwaway etcd (see EtcdProcess). */
export function startEtcd(opts: EtcdStartOptions = {}): Promise<EtcdProcess> {
  return EtcdProcess.start(opts);
}

async function exitsWithin(exited: Promise<Exit>, ms: number): Promise<boolean> {
  const ac = new AbortController();
  const result = await Promise.race([exited.then(() => true), sleep(ms, false, { signal: ac.signal }).catch(() => false)]);
  ac.abort();
  return result;
}

const liveProcesses = new Set<EtcdProcess>();
let exitHookInstalled = false;

function trackForExitCleanup(etcd: EtcdProcess): void {
  liveProcesses.add(etcd);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of liveProcesses) p.killNowSync();
  });
}

// ---------------------------------------------------------------------------------------------
// Installing etcd

const ETCD_PACKAGE = 'etcd-server';
let installing: Promise<string> | undefined;

/**
 * The path of the etcd binary. If there is none on PATH: as root, installs Debian's
 * `etcd-server` package (CI runs on a fresh machine as root); otherwise throws, saying what to
 * install.
 */
export async function ensureEtcdInstalled(): Promise<string> {
  const found = findEtcdBinary();
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `etcd (3.4 or newer) is not installed: no 'etcd' on PATH. Install it, e.g. on Debian/Ubuntu: ` +
        `sudo apt-get update && sudo apt-get install -y ${ETCD_PACKAGE}`,
    );
  }
  installing ??= installEtcdWithApt();
  return installing;
}

function findEtcdBinary(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  // Debian installs to /usr/bin; a minimal PATH in some service environments lacks it.
  for (const dir of [...dirs, '/usr/bin', '/usr/local/bin']) {
    const candidate = path.join(dir, 'etcd');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function installEtcdWithApt(): Promise<string> {
  process.stderr.write(`etcd not found on PATH; installing the Debian package ${ETCD_PACKAGE} (as root)\n`);
  await runLoud('apt-get', ['update']);
  await runLoud('apt-get', ['install', '-y', '--no-install-recommends', ETCD_PACKAGE]);
  const found = findEtcdBinary();
  if (!found) throw new Error(`installed ${ETCD_PACKAGE}, but there is still no 'etcd' on PATH`);
  return found;
}

/** Run a command with its output on our stderr (stdout may be a test runner's TAP stream). */
async function runLoud(command: string, args: string[], timeoutMs = 10 * 60_000): Promise<void> {
  process.stderr.write(`+ ${command} ${args.join(' ')}\n`);
  const child = spawn(command, args, {
    stdio: ['ignore', process.stderr, process.stderr],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: timeoutMs,
  });
  const { code, signal, error } = await new Promise<Exit>((resolve) => {
    child.once('error', (err) => resolve({ code: null, signal: null, error: err }));
    child.once('exit', (c, s) => resolve({ code: c, signal: s }));
  });
  if (error || code !== 0) {
    const how = error ? error.message : `exit code ${code}, signal ${signal}`;
    throw new Error(`'${command} ${args.join(' ')}' failed (${how})`);
  }
}
