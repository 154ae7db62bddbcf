// The implementation under test, as a child process: lainlet (compiled once into a temp dir, the
// way it runs in production) or any command given with --cmd. Reads its RSS and CPU from /proc.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s

export interface BuiltCommand {
  /** Command template with {web} (HOST:PORT), {port}, {etcd} (HOST:PORT) and {etcdUrl}. */
  template: string;
  how: string;
  /** Its temp dir ('' if none), for a synchronous last-resort removal. */
  dir: string;
  cleanup(): Promise<void>;
}

/**
 * lainlet's own command: `tsc` into a temp dir (with proto/ and node_modules/ linked beside it),
 * run with plain node. Falls back to tsx on the sources when the build fails.
 */
/** The node flags of the published entry point's shebang (`bin/lainlet.js`), so the bench runs lainlet as deployed. */
export function productionNodeFlags(): string[] {
  const shebang = fs.readFileSync(path.join(REPO, 'bin', 'lainlet.js'), 'utf8').split('\n')[0];
  return shebang.split(/\s+/).filter((word) => word.startsWith('--'));
}

export async function buildLainlet(nodeFlags: string[] = []): Promise<BuiltCommand> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'lainlet-bench-build-'));
  const cleanup = () => fs.promises.rm(dir, { recursive: true, force: true });
  const flags = ['-web {web} -etcd {etcd} -ip 127.0.0.1 -noauth'];
  try {
    const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = [tsc, '-p', path.join(REPO, 'tsconfig.build.json'), '--outDir', path.join(dir, 'dist')];
    args.push('--declaration', 'false', '--sourceMap', 'false');
    await promisify(execFile)(process.execPath, args, { cwd: REPO, timeout: 180_000 });
    await fs.promises.symlink(path.join(REPO, 'proto'), path.join(dir, 'proto'));
    await fs.promises.symlink(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
    await fs.promises.writeFile(path.join(dir, 'package.json'), '{"type":"module"}\n');
    const main = path.join(dir, 'dist', 'cli', 'main.js');
    return { template: [process.execPath, ...nodeFlags, main, ...flags].join(' '), how: 'compiled (tsc) and run with node', dir, cleanup };
  } catch (err) {
    process.stderr.write(`bench: building lainlet failed, running it with tsx instead: ${(err as Error).message.slice(0, 500)}\n`);
    const main = path.join(REPO, 'src', 'cli', 'main.ts');
    return { template: [process.execPath, ...nodeFlags, '--import', 'tsx', main, ...flags].join(' '), how: 'tsx (build failed)', dir, cleanup };
  }
}

export function fillTemplate(template: string, v: { port: number; etcd: string }): string {
  return template
    .replaceAll('{web}', `127.0.0.1:${v.port}`)
    .replaceAll('{port}', String(v.port))
    .replaceAll('{etcdUrl}', `http://${v.etcd}`)
    .replaceAll('{etcd}', v.etcd);
}

export class Target {
  readonly startedAt: number;
  private readonly exited: Promise<void>;
  private log = '';

  constructor(
    readonly command: string,
    readonly port: number,
  ) {
    // `exec`: the shell becomes the implementation (same pid); file limit raised to the hard limit.
    this.child = spawn('/bin/sh', ['-c', `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${command}`], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LAINLET_LOG_LEVEL: process.env.LAINLET_LOG_LEVEL ?? 'warn' },
    });
    this.startedAt = now();
    for (const s of [this.child.stdout, this.child.stderr]) s?.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-16_000)));
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  private readonly child: ChildProcess;

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.log;
  }

  /** Resident set size in bytes (VmRSS). */
  rss(): number {
    const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : NaN;
  }

  /** User + system CPU time used so far, in ms. */
  cpuMs(): number {
    const stat = fs.readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    if (await Promise.race([this.exited.then(() => true), sleep(8000, false)])) return;
    this.child.kill('SIGKILL');
    await Promise.race([this.exited, sleep(5000)]);
  }
}

/** Wall clock in ms with sub-ms resolution, comparable between the bench's processes. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
