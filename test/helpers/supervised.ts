// What a supervisor (systemd, a shell script, npm) sees when it stops lainlet: it starts a
// command, later sends SIGTERM to the one PID it started, and expects everything that command
// started to be gone and its port closed. Works on any command line (npx, bin/lainlet.js, the
// single executable), so it looks at the process tree in /proc rather than at one child.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { OutputTail } from '../../src/demo/output-tail.js';
import { get, watch } from './http.js';

export interface SigtermOutcome {
  /** Processes of the command's tree before the signal (the started PID first). */
  tree: number[];
  /** Those still alive (not zombies) when we stopped waiting. */
  leftover: number[];
  /** Whether a port (HTTP, or one of otherPorts) still accepted connections when we stopped waiting. */
  listening: boolean;
  /** From SIGTERM until nothing was left; undefined if that never happened within the limit. */
  stoppedMs: number | undefined;
  /** The command's output, for failure messages. */
  output: string;
}

/** Parent PID of every process, from /proc/PID/stat (the field after the parenthesised name). */
function parentPids(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(fields[1]));
    } catch {
      // gone while we looked
    }
  }
  return parents;
}

/** `pid` and all its descendants. */
export function processTree(pid: number): number[] {
  const parents = parentPids();
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

/** Running (a zombie has exited: it only waits for its parent to read its status). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Runs `command` (a lainlet listening on `port`), waits until it is ready (a watch before its
 * first etcd read gets 503) and a watch stream is open, sends SIGTERM to the started PID only,
 * and reports what is left after `limitMs`. Whatever is left is SIGKILLed afterwards so that a
 * failing test leaves nothing behind.
 */
export async function sigtermStartedPid(
  command: string,
  args: string[],
  opts: {
    /** The HTTP port, or a pattern whose first group finds it in the command's output. */
    port: number | RegExp;
    /** More ports the command listens on (gRPC) that must be closed too. */
    otherPorts?: number[];
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    readyTimeoutMs?: number;
    limitMs?: number;
  },
): Promise<SigtermOutcome> {
  const out = new OutputTail(64 * 1024);
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  out.follow(child.stdout);
  out.follow(child.stderr);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${command}: did not start`);
  let tree: number[] = [pid];
  try {
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
    const port = await (async (): Promise<number> => {
      for (;;) {
        const found = typeof opts.port === 'number' ? opts.port : Number(opts.port.exec(out.text())?.[1]) || undefined;
        const answer = found === undefined ? undefined : await get(found, '/readyz', { timeoutMs: 1_000 }).catch(() => undefined);
        if (found !== undefined && answer?.status === 200) return found;
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`${command} ${args.join(' ')}: no answer on port ${String(found ?? opts.port)}. Output:\n${out.lastLines(30)}`);
        }
        await sleep(100);
      }
    })();
    // A client in the middle of a watch, as on a real node.
    const stream = watch(port, '/v2/procwatcher?appname=hello&watch=1');
    await stream.next((e) => e.event === 'init', 10_000);
    tree = processTree(pid);

    child.kill('SIGTERM');
    const signalledAt = Date.now();
    const limitMs = opts.limitMs ?? 5_000;
    let stoppedMs: number | undefined;
    let leftover = tree;
    let listening = true;
    while (Date.now() - signalledAt <= limitMs) {
      leftover = tree.filter(isAlive);
      listening = (await Promise.all([port, ...(opts.otherPorts ?? [])].map(accepts))).includes(true);
      if (leftover.length === 0 && !listening) {
        stoppedMs = Date.now() - signalledAt;
        break;
      }
      await sleep(100);
    }
    stream.close();
    return { tree, leftover, listening, stoppedMs, output: out.text() };
  } finally {
    for (const p of [...tree, pid]) {
      try {
        if (isAlive(p)) process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** The environment without npm's per-script variables: the command as a supervisor starts it. */
export function envWithoutNpm(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('npm_')));
}
