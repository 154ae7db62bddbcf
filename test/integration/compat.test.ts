// The compatibility replay: the Go lainlet's recorded answers (test/fixtures: answers-go.json for
// cases.json; answers-go-edge.json for cases-edge.json, recorded with test/fixtures/record_go.py)
// against ours, through the same probe tool, on a real etcd. Must be all green, with lainlet on
// etcd itself and on an `etcd grpc-proxy` in front of it.
import { test } from 'node:test';
import { join } from 'node:path';
import { ensureEtcdInstalled } from '../../src/demo/etcd-process.js';
import { freeLoopbackPort } from '../../src/demo/free-port.js';
import { compatReplay } from '../helpers/compat-replay.js';
import { REPO_ROOT } from '../helpers/lainlet.js';

// The sources beside this test (through tsx), not the last build in dist/: `npm run test:quick`
// needs no build and never replays stale code.
const LAINLET = `${process.execPath} --import ${import.meta.resolve('tsx')} ${join(REPO_ROOT, 'src/cli/main.ts')}`;
const DIRECT = `${LAINLET} -web {web} -etcd {etcd} -ip 127.0.0.1`;

test('replaying the Go binary recorded cases gives identical answers', { timeout: 240_000 }, async () => {
  console.log(`compat replay -> ${await compatReplay({ cmd: DIRECT })}`);
});

test('explicit `*`, empty, repeated and odd parameters from local, super and app callers: identical answers', { timeout: 240_000 }, async () => {
  console.log(`compat replay (edge cases) -> ${await compatReplay({ cmd: DIRECT, set: 'edge' })}`);
});

test('the same replay with lainlet behind etcd grpc-proxy gives identical answers', { timeout: 240_000 }, async () => {
  // The probe runs the command in its own process group and kills the group: the proxy goes with lainlet.
  const proxy = `127.0.0.1:${await freeLoopbackPort()}`;
  const startProxy = `${await ensureEtcdInstalled()} grpc-proxy start --endpoints={etcd} --listen-addr=${proxy} --data-dir={dir}/proxy`;
  const cmd = `sh -c "${startProxy} 2>{dir}/proxy.log & exec ${LAINLET} -web {web} -etcd ${proxy} -ip 127.0.0.1"`;
  console.log(`compat replay behind grpc-proxy -> ${await compatReplay({ cmd })}`);
});
