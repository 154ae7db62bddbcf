// lainlet/client and `lainlet get|watch` against a real lainlet on a real etcd: typed answers
// for every route, typed errors, a watch that survives restarts and stalls and never goes back
// in time, abort that leaves nothing open, and the CLI's output and exit codes.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeLoopbackPort } from '../../src/demo/free-port.js';
import { startSampleEtcd, type ClusterSnapshot, type TestEtcd } from '../helpers/etcd.js';
import { get, REPO_ROOT, startLainlet, type LainletProcess } from '../helpers/lainlet.js';
import {
  LainletClient,
  LainletConnectionError,
  LainletError,
  type AppnameAnswer,
  type CoreinfoAnswer,
  type ProcAnswer,
  type WatchEvent,
} from '../../src/client/index.js';

const HELLO_WEB = '/lain/deployd/pod_groups/hello/hello.web.web';
const CLI = path.join(REPO_ROOT, 'src', 'cli', 'main.ts');

let env: TestEtcd;
let cluster: ClusterSnapshot;
let main: LainletProcess;
let client: LainletClient;

before(
  async () => {
    ({ cluster, ...env } = await startSampleEtcd());
    main = await startLainlet({ etcd: env.etcd.endpoint, readyPath: '/readyz' });
    client = new LainletClient({ addr: `127.0.0.1:${main.port}` });
  },
  { timeout: 300_000 },
);

after(async () => {
  main?.kill('SIGCONT');
  await main?.stop();
  await env?.etcd.stop();
});

/** hello.web.web with spec container 0's memory set (shows in coreinfo's `Memory`). */
function helloWebWithMemory(memory: number): string {
  const pg = JSON.parse(cluster[HELLO_WEB]) as { Spec: { Pod: { Containers: Array<{ MemoryLimit: number }> } } };
  pg.Spec.Pod.Containers[0].MemoryLimit = memory;
  return JSON.stringify(pg);
}

function helloMemory(answer: CoreinfoAnswer): number | undefined {
  return answer['hello.web.web']?.PodInfos[0]?.ContainerInfos[0]?.Memory;
}

/** The next event of a watch, or a failure after `ms`. */
async function nextWithin<T>(it: AsyncIterator<T>, ms: number, what: string): Promise<T> {
  const ac = new AbortController();
  try {
    const r = await Promise.race([
      it.next(),
      sleep(ms, undefined, { signal: ac.signal }).then(() => {
        throw new Error(`no ${what} within ${ms} ms`);
      }),
    ]);
    if (r.done) throw new Error(`watch ended while waiting for ${what}`);
    return r.value;
  } finally {
    ac.abort();
  }
}

async function raw(pathQuery: string): Promise<string> {
  const answer = await get(main.port, pathQuery);
  assert.equal(answer.status, 200, `${pathQuery}: ${answer.body}`);
  return answer.body;
}

test('typed answers for every route equal what lainlet serves', { timeout: 60_000 }, async () => {
  const hello = { appname: 'hello' };
  const core: CoreinfoAnswer = await client.coreinfo(hello);
  assert.deepEqual(core, JSON.parse(await raw('/v2/coreinfowatcher?appname=hello')));
  assert.equal(typeof core['hello.web.web'].PodInfos[0].ContainerInfos[0].ContainerIp, 'string');
  const procs: ProcAnswer = await client.procs(hello);
  assert.deepEqual(procs, JSON.parse(await raw('/v2/procwatcher?appname=hello')));
  const ip = core['hello.web.web'].PodInfos[0].ContainerInfos[0].ContainerIp;
  const cases: Array<[Promise<unknown>, string]> = [
    [client.config({ target: 'domain' }), '/v2/configwatcher?target=domain'],
    [client.config(), '/v2/configwatcher'],
    [client.proxy(hello), '/v2/proxywatcher?appname=hello'],
    [client.webprocs(), '/v2/webrouter/webprocs'],
    [client.localprocs(), '/v2/rebellion/localprocs'],
    [client.streamports(), '/v2/streamrouter/ports'],
    [client.streamprocs(), '/v2/streamrouter/streamprocs'],
    [client.apps(), '/v2/appswatcher'],
    [client.backupspec(hello), '/v2/backupspec?appname=hello'],
    [client.depends(), '/v2/depends'],
    [client.nodes(), '/v2/nodes'],
    [client.containers(), '/v2/containers'],
    [client.localspecquery({ nodeip: '192.168.77.21' }), '/v2/localspecquery?nodeip=192.168.77.21'],
    [client.appname({ ip }), `/appname?ip=${ip}`],
    [client.get('/v2/coreinfowatcher', hello), '/v2/coreinfowatcher?appname=hello'],
  ];
  for (const [answer, pathQuery] of cases) assert.deepEqual(await answer, JSON.parse(await raw(pathQuery)), pathQuery);
  const app: AppnameAnswer = await client.appname({ ip });
  assert.equal(app.appname, 'hello');
  assert.ok(Object.keys(await client.streamports()).length > 0, 'the sample cluster has stream ports');

  // The revision header: the state's etcd revision, on GETs.
  const meta = await client.getWithMeta('coreinfo', hello);
  assert.equal(meta.json, await raw('/v2/coreinfowatcher?appname=hello'));
  assert.ok(meta.revision !== undefined && meta.revision >= 1, `revision ${meta.revision}`);
  assert.match(await client.version(), /\d/);
});

test('errors are typed: status and lainlet message; cannot connect', { timeout: 30_000 }, async () => {
  await assert.rejects(client.get('procs', {}), (err: unknown) => {
    assert.ok(err instanceof LainletError);
    assert.equal(err.status, 400);
    assert.equal(err.message, 'appname required');
    return true;
  });
  await assert.rejects(client.get('/v2/nope'), (err: unknown) => err instanceof LainletError && err.status === 404 && err.message === '404 not found');
  await assert.rejects(client.appname({ ip: '10.9.9.9' }), (err: unknown) => err instanceof LainletError && err.status === 500 && /unkown address/.test(err.message));
  // Watches: a 4xx ends the iterator with the error; a route that cannot be watched is refused at once.
  await assert.rejects(nextWithin(client.watch('procs', {}), 10_000, 'error'), (err: unknown) => err instanceof LainletError && err.status === 400 && err.message === 'appname required');
  assert.throws(() => client.watch('/v2/localspecquery'), (err: unknown) => err instanceof LainletError && /do not support watch/.test(err.message));
  const closed = new LainletClient({ addr: `127.0.0.1:${await freeLoopbackPort()}` });
  await assert.rejects(closed.nodes(), LainletConnectionError);
});

test('watch: init then typed updates, and it survives lainlet restarts ending on the latest state', { timeout: 120_000 }, async () => {
  const ac = new AbortController();
  const errors: string[] = [];
  const it = client.watch('coreinfo', { appname: 'hello' }, {
    signal: ac.signal,
    heartbeatSeconds: 1,
    backoff: { maxMs: 1_000 },
    onError: (err) => errors.push(err.message),
  });
  try {
    const init: WatchEvent<CoreinfoAnswer> = await nextWithin(it, 10_000, 'init');
    assert.equal(init.event, 'init');
    assert.equal(init.id, 1);
    assert.equal(init.json, await raw('/v2/coreinfowatcher?appname=hello'));
    assert.ok(init.revision !== undefined);

    const rev1 = await env.http.put(HELLO_WEB, helloWebWithMemory(111_000_000));
    const u1 = await nextWithin(it, 10_000, 'update 1');
    assert.equal(u1.event, 'update');
    assert.equal(u1.id, rev1);
    assert.equal(helloMemory(u1.data), 111_000_000);

    // Restart with nothing changed: the new init equals the last answer and is not yielded;
    // the next event is the next change. (The iterator reconnects while a next() is pending.)
    const port = main.port;
    const pending = nextWithin(it, 60_000, 'update after a restart');
    await main.stop();
    main = await startLainlet({ etcd: env.etcd.endpoint, port, readyPath: '/readyz' });
    await until(() => errors.length > 0, 5_000, 'the watch to see the restart');
    // The watch is back on the new lainlet (its stream is open there) before the next change.
    await until(async () => JSON.parse((await get(main.port, '/debug')).body).connections >= 1, 15_000, 'the watch to reconnect');
    const rev2 = await env.http.put(HELLO_WEB, helloWebWithMemory(222_000_000));
    const u2 = await pending;
    assert.equal(u2.event, 'update', 'an unchanged init after a reconnect is not yielded');
    assert.equal(u2.id, rev2);
    assert.equal(helloMemory(u2.data), 222_000_000);

    // Changed while lainlet was down: the new init is yielded, with the new state.
    await main.stop();
    await env.http.put(HELLO_WEB, helloWebWithMemory(333_000_000));
    const rev3 = await env.http.put(HELLO_WEB, helloWebWithMemory(444_000_000));
    main = await startLainlet({ etcd: env.etcd.endpoint, port, readyPath: '/readyz' });
    const i2 = await nextWithin(it, 15_000, 'init after a restart');
    assert.equal(i2.event, 'init');
    assert.equal(helloMemory(i2.data), 444_000_000, 'straight to the latest state');
    assert.ok(i2.revision !== undefined && i2.revision >= rev3, `revision ${i2.revision} >= ${rev3}`);
    assert.equal(i2.json, await raw('/v2/coreinfowatcher?appname=hello'));
    assert.ok(errors.some((m) => /ended the stream|ECONNREFUSED|ECONNRESET|socket hang up/.test(m)), errors.join('\n'));
  } finally {
    ac.abort();
    await env.http.put(HELLO_WEB, cluster[HELLO_WEB]);
  }
  assert.deepEqual(await it.next(), { done: true, value: undefined }, 'abort ends the iterator');
});

test('watch: a stalled lainlet (SIGSTOP) is detected by missing heartbeats and reconnected', { timeout: 60_000 }, async () => {
  const ac = new AbortController();
  const errors: Array<{ message: string; at: number }> = [];
  const it = client.watch('coreinfo', { appname: 'hello' }, {
    signal: ac.signal,
    heartbeatSeconds: 1,
    backoff: { maxMs: 500 },
    onError: (err) => errors.push({ message: err.message, at: Date.now() }),
  });
  try {
    const init = await nextWithin(it, 10_000, 'init');
    assert.equal(init.event, 'init');
    const pending = it.next();
    const stoppedAt = Date.now();
    assert.ok(main.kill('SIGSTOP'));
    await until(() => errors.length > 0, 10_000, 'the stall to be detected');
    const detectedAfter = errors[0].at - stoppedAt;
    assert.match(errors[0].message, /nothing received for 3000 ms/);
    // No false alarm while heartbeats still flowed (the last one came at most 1 s before the stop);
    // how soon after 3 s it is noticed depends on the machine's load: a figure, not a rule.
    assert.ok(detectedAfter >= 2_000, `detected after ${detectedAfter} ms`);
    const rev = await env.http.put(HELLO_WEB, helloWebWithMemory(555_000_000));
    assert.ok(main.kill('SIGCONT'));
    const r = await Promise.race([pending, sleep(15_000).then(() => ({ done: true, value: undefined }))]);
    assert.equal(r.done, false, 'an event after SIGCONT');
    const ev = r.value as WatchEvent<CoreinfoAnswer>;
    // Reconnected: the change made while stopped arrives (as the new init of the new stream).
    assert.equal(helloMemory(ev.data), 555_000_000);
    assert.ok(ev.revision !== undefined && ev.revision >= rev);
  } finally {
    main.kill('SIGCONT');
    ac.abort();
    await env.http.put(HELLO_WEB, cluster[HELLO_WEB]);
  }
});

test('abort leaves nothing open: a child process using the client exits on its own', { timeout: 60_000 }, async () => {
  const script = path.join(REPO_ROOT, 'test', 'helpers', 'client-abort-child.ts');
  const run = await runNode([script, String(main.port), String(await freeLoopbackPort())], { timeoutMs: 30_000 });
  assert.equal(run.timedOut, false, `the child did not exit by itself within 30 s:\n${run.stdout}\n${run.stderr}`);
  assert.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout) as { report: string[]; left: string[] };
  assert.deepEqual(out.report, ['abort-open:1', 'break:init', 'abort-backoff:2', 'get-abort:AbortError', 'get-closed:true', 'pre-aborted:0']);
  assert.deepEqual(out.left, [], 'no sockets or timers left');
});

test('lainlet get: compact exact bytes when piped, --pretty indented; exit codes', { timeout: 60_000 }, async () => {
  const addr = `127.0.0.1:${main.port}`;
  const compact = await runNode([CLI, 'get', 'coreinfo', 'appname=hello', '--addr', addr]);
  assert.equal(compact.code, 0, compact.stderr);
  assert.equal(compact.stdout, `${await raw('/v2/coreinfowatcher?appname=hello')}\n`);

  const pretty = await runNode([CLI, 'get', '/v2/nodes', '--pretty', '--addr', addr]);
  assert.equal(pretty.code, 0, pretty.stderr);
  assert.match(pretty.stdout, /^\{\n {2}"node1:192\.168\.77\.21:22": \{\n {4}"docker_device": "",\n/);
  assert.deepEqual(JSON.parse(pretty.stdout), JSON.parse(await raw('/v2/nodes')));

  const viaEnv = await runNode([CLI, 'get', 'config', 'target=domain'], { env: { LAINLET_ADDR: addr } });
  assert.equal(viaEnv.stdout, '{"domain":"lain.local"}\n');

  const denied = await runNode([CLI, 'get', 'procs', '--addr', addr]);
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /lainlet answered 400: appname required/);
  const usage = await runNode([CLI, 'get', 'coreinfo', 'bogus=1', '--addr', addr]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /coreinfo has no parameter "bogus"/);
  assert.equal((await runNode([CLI, 'get', 'nonsense'])).code, 2);
  const down = await runNode([CLI, 'get', 'apps', '--addr', `127.0.0.1:${await freeLoopbackPort()}`]);
  assert.equal(down.code, 3);
  assert.match(down.stderr, /cannot reach lainlet/);

  const help = await runNode([CLI, 'get', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /coreinfo +\/v2\/coreinfowatcher +appname=/);
  assert.match(help.stdout, /nodeip= +node IP/);
  const mainHelp = await runNode([CLI, '--help']);
  assert.match(mainHelp.stdout, /-etcd ENDPOINTS/);
  assert.match(mainHelp.stdout, /lainlet watch ROUTE/);
  assert.match(mainHelp.stdout, /webprocs +\/v2\/webrouter\/webprocs/);
});

test('lainlet watch: a line per event with what changed; --json lines; exit codes', { timeout: 90_000 }, async () => {
  const addr = `127.0.0.1:${main.port}`;
  try {
    for (const mode of ['text', 'json'] as const) {
      const args = [CLI, 'watch', 'coreinfo', 'appname=hello', '--addr', addr, '--heartbeat', '1', '--count', '2'];
      if (mode === 'json') args.push('--json');
      const run = runNode(args, {
        timeoutMs: 30_000,
        onLine: (line, n) => {
          if (n === 1) void env.http.put(HELLO_WEB, helloWebWithMemory(mode === 'json' ? 777_000_000 : 666_000_000));
        },
      });
      const result = await run;
      assert.equal(result.code, 0, `${mode}: ${result.stderr}`);
      const lines = result.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 2, result.stdout);
      if (mode === 'text') {
        assert.match(lines[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z init id=1 rev=\d+ 2 keys$/);
        assert.match(lines[1], /^\S+Z update id=\d+ rev=\d+ \+0 -0 ~1 changed: hello\.web\.web$/);
      } else {
        const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
        assert.equal(first.event, 'init');
        assert.equal(first.summary, '2 keys');
        assert.deepEqual(Object.keys(first.data as object).sort(), ['hello.web.web', 'hello.worker.foo']);
        assert.equal(second.event, 'update');
        assert.deepEqual([second.added, second.removed, second.changed], [[], [], ['hello.web.web']]);
        assert.equal(helloMemory(second.data as CoreinfoAnswer), 777_000_000);
        assert.equal(typeof second.time, 'string');
        assert.equal(second.id, second.revision);
      }
    }
  } finally {
    await env.http.put(HELLO_WEB, cluster[HELLO_WEB]);
  }
  const down = await runNode([CLI, 'watch', 'apps', '--addr', `127.0.0.1:${await freeLoopbackPort()}`], { timeoutMs: 20_000 });
  assert.equal(down.code, 3, down.stderr);
  const refused = await runNode([CLI, 'watch', 'procs', '--addr', addr], { timeoutMs: 20_000 });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /400: appname required/);
  assert.equal((await runNode([CLI, 'watch', 'localspecquery', '--addr', addr])).code, 2);
});

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

interface NodeRun {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** `node --import tsx ARGS`; killed (timedOut) if it has not exited within the bound. */
function runNode(
  args: string[],
  opts: { timeoutMs?: number; env?: Record<string, string>; onLine?: (line: string, n: number) => void } = {},
): Promise<NodeRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, LAINLET_ADDR: '', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let lines = 0;
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const before = stdout;
      stdout += chunk;
      if (opts.onLine) for (const line of stdout.slice(before.lastIndexOf('\n') + 1).split('\n').slice(0, -1)) opts.onLine(line, ++lines);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}
