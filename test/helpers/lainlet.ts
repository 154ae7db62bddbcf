// lainlet as a child process, the way it runs in production (its own process, its own
// signals), from the TypeScript sources via tsx. Its output is kept for failure messages.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeLoopbackPort } from '../../src/demo/free-port.js';
import { OutputTail } from '../../src/demo/output-tail.js';
import { get } from './http.js';

export { get, getJson, watch, SseWatch, type HttpAnswer, type RequestOptions, type SseEvent } from './http.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = path.join(REPO_ROOT, 'src', 'cli', 'main.ts');

export interface LainletOptions {
  /** etcd endpoint (`127.0.0.1:PORT`), passed as `-etcd`. */
  etcd: string;
  /** `-ip`; default 127.0.0.1. */
  ip?: string;
  /** More flags, e.g. `['-noauth']` or `['-debug']`. */
  args?: string[];
  /** Run in a new UTS namespace with this host name (rebellion/localprocs); needs root. */
  hostname?: string;
  /** HTTP port; default a free one. */
  port?: number;
  /** Route that must answer 200 before start() resolves; default `/debug`. */
  readyPath?: string;
  /** Default 30 s (tsx compiles the sources on start). */
  readyTimeoutMs?: number;
  env?: Record<string, string>;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class LainletProcess {
  readonly exited: Promise<Exit>;
  private readonly out = new OutputTail(256 * 1024);

  /** Start lainlet and wait until it answers; rejects (with its output) if it doesn't. */
  static async start(opts: LainletOptions): Promise<LainletProcess> {
    for (let attempt = 1; ; attempt++) {
      const port = opts.port ?? (await freeLoopbackPort());
      const lainlet = new LainletProcess(port, opts);
      try {
        await lainlet.waitReady(opts.readyPath ?? '/debug', opts.readyTimeoutMs ?? 30_000);
        return lainlet;
      } catch (err) {
        await lainlet.stop();
        // The free port may have been taken between our check and lainlet's listen.
        if (opts.port === undefined && attempt < 3 && /EADDRINUSE/.test(lainlet.output())) continue;
        throw err;
      }
    }
  }

  private readonly child: ChildProcess;

  private constructor(
    readonly port: number,
    opts: LainletOptions,
  ) {
    const nodeArgs = [
      '--import',
      'tsx',
      CLI,
      '-web',
      `127.0.0.1:${port}`,
      '-etcd',
      opts.etcd,
      '-ip',
      opts.ip ?? '127.0.0.1',
      ...(opts.args ?? []),
    ];
    const [command, args] = opts.hostname ? inUtsNamespace(opts.hostname, process.execPath, nodeArgs) : [process.execPath, nodeArgs];
    this.out.append(`--- ${command} ${args.join(' ')}\n`);
    this.child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.out.follow(this.child.stdout);
    this.out.follow(this.child.stderr);
    this.exited = new Promise<Exit>((resolve) => {
      this.child.once('error', (err) => {
        this.out.append(`--- spawn failed: ${err.message}\n`);
        resolve({ code: null, signal: null });
      });
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    liveChildren.add(this.child);
    void this.exited.then(() => liveChildren.delete(this.child));
    installExitHook();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get isRunning(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  /** lainlet's output so far (stdout and stderr, interleaved), for failing-test diagnostics. */
  output(): string {
    return this.out.text();
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    return this.isRunning ? this.child.kill(signal) : false;
  }

  /** SIGTERM, then SIGKILL if it is still running after `timeoutMs`. Resolves with how it exited. */
  async stop(timeoutMs = 5_000): Promise<Exit> {
    if (this.isRunning) {
      this.child.kill('SIGTERM');
      const stopped = await Promise.race([this.exited.then(() => true), sleep(timeoutMs, false, { ref: false })]);
      if (!stopped) this.child.kill('SIGKILL');
    }
    const exit = await Promise.race([this.exited, sleep(timeoutMs, undefined, { ref: false })]);
    if (!exit) throw new Error(`lainlet (pid ${this.child.pid}) did not exit after SIGKILL`);
    return exit;
  }

  private async waitReady(readyPath: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (!this.isRunning) {
        const exit = await this.exited;
        throw new Error(`lainlet exited before it was ready (code ${exit.code}, signal ${exit.signal}). Output:\n${this.out.lastLines(40)}`);
      }
      try {
        const answer = await get(this.port, readyPath, { timeoutMs: 1_000 });
        if (answer.status === 200) return;
        last = `HTTP ${answer.status}: ${answer.body.slice(0, 200)}`;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(100);
    }
    throw new Error(`lainlet did not answer GET ${readyPath} with 200 within ${timeoutMs} ms (last: ${last}). Output:\n${this.out.lastLines(40)}`);
  }
}

export function startLainlet(opts: LainletOptions): Promise<LainletProcess> {
  return LainletProcess.start(opts);
}

/**
 * `unshare --uts sh -c 'hostname NAME && exec CMD...'`: the command sees NAME as the host
 * name and nothing else changes. unshare and sh both exec, so the pid is node's own.
 */
function inUtsNamespace(hostname: string, command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) {
    throw new Error(`running lainlet with host name ${hostname} needs root (unshare --uts)`);
  }
  return ['unshare', ['--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', hostname, command, ...args]];
}

// A test process that dies without stop() must not leave lainlets running.
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of liveChildren) child.kill('SIGKILL');
  });
}
