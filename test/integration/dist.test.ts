// The single executable (`npm run dist`, scripts/dist.mjs) as a LAIN node gets it: one file
// copied alone into an empty directory and run with a PATH that has no node. It must answer
// exactly like `npx lainlet` (the compatibility replay), serve gRPC over TLS, run the client
// subcommands and the demo (from its embedded sample cluster), and stop on SIGTERM like the npm
// form, run as deploy/lainlet.service runs it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { freeLoopbackPorts } from '../../src/demo/free-port.js';
import { startSampleEtcd, type TestEtcd } from '../helpers/etcd.js';
import { get, REPO_ROOT } from '../helpers/lainlet.js';
import { compatReplay } from '../helpers/compat-replay.js';
import { envWithoutNpm, sigtermStartedPid } from '../helpers/supervised.js';
import { unitExecStart } from '../helpers/systemd-unit.js';
import { selfSignedCert } from '../helpers/tls.js';

const run = promisify(execFile);
// What the probe and lainlet may find on PATH: the probe's own tools, and etcd (the demo's).
const TOOLS = ['sh', 'hostname', 'unshare', 'etcd'];

let work: string;
let exe: string;
let env: TestEtcd;
/** The environment of a node without Node.js: PATH holds only TOOLS. */
let nodeless: NodeJS.ProcessEnv;
const children: Array<() => void> = [];

before(
  async () => {
    work = mkdtempSync(path.join(tmpdir(), 'lainlet-dist-test-'));
    const runDir = path.join(work, 'run');
    const binDir = path.join(work, 'bin');
    mkdirSync(binDir);
    const started = Date.now();
    const { stdout } = await run(process.execPath, [path.join(REPO_ROOT, 'scripts/dist.mjs'), '--out', path.join(runDir, 'lainlet')], { cwd: REPO_ROOT });
    console.log(`${stdout.trim()} (test saw ${Date.now() - started} ms)`);
    exe = path.join(runDir, 'lainlet');
    assert.deepEqual(readdirSync(runDir), ['lainlet'], 'the executable is alone in its directory');
    for (const tool of TOOLS) {
      const found = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
      symlinkSync(found, path.join(binDir, tool));
    }
    nodeless = { ...envWithoutNpm(), PATH: binDir, HOME: work };
    const probe = await run('sh', ['-c', 'command -v node || echo none'], { env: nodeless }).catch((err: { stdout: string }) => err);
    assert.equal(probe.stdout.trim(), 'none', 'no node on the test PATH');
    env = await startSampleEtcd();
  },
  { timeout: 300_000 },
);

after(async () => {
  for (const stop of children) stop();
  await env?.etcd.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the executable alone, with no node on PATH, gives the Go binary recorded answers (compatibility replay)', { timeout: 240_000 }, async () => {
  // The probe is python; run its interpreter by its real path (python3 may be a shim that needs PATH).
  const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
  const summary = await compatReplay({ cmd: `${exe} -web {web} -etcd {etcd} -ip 127.0.0.1`, python, env: nodeless, cwd: path.dirname(exe) });
  console.log(`compat replay against the single executable -> ${summary}`);
});

test('the executable serves gRPC over TLS and runs `get` and `watch`, with its version from the package', { timeout: 120_000 }, async () => {
  const { key, cert } = selfSignedCert(work);
  const [web, grpcPort] = await freeLoopbackPorts(2);
  const daemon = execFile(exe, ['-web', `127.0.0.1:${web}`, '-grpc.addr', `127.0.0.1:${grpcPort}`, '-grpc.TLS', '-grpc.key', key, '-grpc.cert', cert,
    '-etcd', env.etcd.endpoint, '-ip', '127.0.0.1'], { env: nodeless, cwd: path.dirname(exe) });
  children.push(() => daemon.kill('SIGKILL'));
  let ready = false;
  for (let i = 0; i < 100 && !ready; i++) {
    ready = (await get(web, '/readyz', { timeoutMs: 1_000 }).catch(() => undefined))?.status === 200;
    if (!ready) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(ready, 'the executable became ready');

  const http = async (p: string) => (await get(web, p)).body;
  const addr = ['--addr', `127.0.0.1:${web}`];
  const got = await run(exe, ['get', 'coreinfo', 'appname=hello', ...addr], { env: nodeless });
  assert.equal(got.stdout, `${await http('/v2/coreinfowatcher?appname=hello')}\n`, '`lainlet get` prints the exact answer');
  const watched = await run(exe, ['watch', 'configwatcher', 'target=domain', '--json', '--count', '1', ...addr], { env: nodeless, timeout: 30_000 });
  assert.deepEqual((JSON.parse(watched.stdout) as { data: unknown }).data, JSON.parse(await http('/v2/configwatcher?target=domain')));

  const debug = JSON.parse(await http('/debug')) as Record<string, unknown>;
  const pkgVersion = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  assert.ok(JSON.stringify(debug).includes(`"${pkgVersion}"`), `/debug names the package version ${pkgVersion}`);

  const proto = protoLoader.loadSync(path.join(REPO_ROOT, 'proto/lainlet/message.proto'), { keepCase: true, longs: Number, defaults: true });
  const pkg = (grpc.loadPackageDefinition(proto) as unknown as { message: Record<string, grpc.ServiceClientConstructor> }).message;
  const client = new pkg.Config(`127.0.0.1:${grpcPort}`, grpc.credentials.createSsl(readFileSync(cert)), {
    'grpc.ssl_target_name_override': 'localhost',
  });
  try {
    const reply = await new Promise<{ Data: unknown }>((resolve, reject) =>
      (client as unknown as { Get: (r: object, o: object, cb: (e: Error | null, r: { Data: unknown }) => void) => void }).Get(
        { Target: 'domain' },
        { deadline: Date.now() + 10_000 },
        (err, r) => (err ? reject(err) : resolve(r)),
      ),
    );
    assert.deepEqual(reply.Data, JSON.parse(await http('/v2/configwatcher?target=domain')), 'gRPC over TLS answers as HTTP does');
  } finally {
    client.close();
    daemon.kill('SIGTERM');
  }
});

test("SIGTERM to the unit's ExecStart process (the executable) leaves no process and nothing listening within 5 s", { timeout: 60_000 }, async () => {
  const [web, grpcPort] = await freeLoopbackPorts(2);
  // deploy/lainlet.service's command line, with this test's loopback ports and etcd.
  const replace = new Map([
    ['/usr/bin/lainlet', exe],
    ['-web=:9001', `-web=127.0.0.1:${web}`],
    ['-grpc.addr=:9000', `-grpc.addr=127.0.0.1:${grpcPort}`],
    ['-etcd=NODE_IP:4001', `-etcd=${env.etcd.endpoint}`],
    ['-ip=NODE_IP', '-ip=127.0.0.1'],
  ]);
  const unitArgv = unitExecStart('NODE_IP');
  assert.deepEqual([...unitArgv].sort(), [...replace.keys()].sort(), 'the unit runs the command this test knows');
  const [command, ...args] = unitArgv.map((word) => replace.get(word) ?? word);
  const outcome = await sigtermStartedPid(command, args, { port: web, otherPorts: [grpcPort], env: nodeless, cwd: path.dirname(exe) });
  const detail = `tree ${outcome.tree.join(',')}, left ${outcome.leftover.join(',') || 'none'}, listening ${outcome.listening}\n${outcome.output}`;
  assert.deepEqual(outcome.tree.length, 1, `the executable started child processes: ${detail}`);
  assert.deepEqual(outcome.leftover, [], detail);
  assert.equal(outcome.listening, false, detail);
  console.log(`single executable (the unit's command line): stopped ${outcome.stoppedMs} ms after SIGTERM`);
});

test('the executable runs the demo from its embedded sample cluster; SIGTERM stops it and its etcd', { timeout: 120_000 }, async () => {
  const outcome = await sigtermStartedPid(exe, ['demo'], {
    // The first http:// address the demo prints is lainlet's.
    port: /http:\/\/127\.0\.0\.1:(\d+)/,
    env: nodeless,
    cwd: path.dirname(exe),
  });
  const detail = `tree ${outcome.tree.join(',')}, left ${outcome.leftover.join(',') || 'none'}, listening ${outcome.listening}\n${outcome.output}`;
  assert.match(outcome.output, /loaded the sample cluster: \d+ keys/, detail);
  assert.ok(outcome.tree.length >= 2, `the demo runs its own etcd: ${detail}`);
  assert.deepEqual(outcome.leftover, [], detail);
  assert.equal(outcome.listening, false, detail);
  console.log(`single executable demo: lainlet and etcd stopped ${outcome.stoppedMs} ms after SIGTERM`);
});
