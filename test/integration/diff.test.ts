// `lainlet diff A B` against two real lainlets, each on its own etcd loaded with the same
// sample cluster: equal answers exit 0; one value changed on one side exits 1 and names the
// route and the JSON path; with --for, a change that reaches both sides during the window is
// not reported.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { runDiff } from '../../src/cli/diff.js';
import { startSampleEtcd, type ClusterSnapshot, type TestEtcd } from '../helpers/etcd.js';
import { getJson, startLainlet, type LainletProcess } from '../helpers/lainlet.js';

const HELLO_WEB = '/lain/deployd/pod_groups/hello/hello.web.web';

let sides: Array<TestEtcd & { lainlet: LainletProcess }> = [];
let cluster: ClusterSnapshot;

before(
  async () => {
    for (let i = 0; i < 2; i++) {
      const env = await startSampleEtcd();
      cluster = env.cluster;
      sides.push({ ...env, lainlet: await startLainlet({ etcd: env.etcd.endpoint, readyPath: '/readyz' }) });
    }
  },
  { timeout: 300_000 },
);

after(async () => {
  for (const s of sides) {
    await s.lainlet.stop();
    await s.etcd.stop();
  }
  sides = [];
});

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  return {
    stream: new Writable({
      write(chunk: Buffer, _enc, done) {
        text += chunk.toString();
        done();
      },
    }),
    text: () => text,
  };
}

async function diff(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const [stdout, stderr] = [sink(), sink()];
  const addrs = sides.map((s) => `127.0.0.1:${s.lainlet.port}`);
  const code = await runDiff([...addrs, ...args], { stdout: stdout.stream, stderr: stderr.stream, env: {} });
  return { code, out: stdout.text(), err: stderr.text() };
}

/** hello.web.web with spec container 0's memory set (coreinfo's `Memory`). */
function helloWebWithMemory(memory: number): string {
  const pg = JSON.parse(cluster[HELLO_WEB]) as { Spec: { Pod: { Containers: Array<{ MemoryLimit: number }> } } };
  pg.Spec.Pod.Containers[0].MemoryLimit = memory;
  return JSON.stringify(pg);
}

/** Writes hello.web.web's memory on one side and waits until its lainlet answers with it. */
async function setMemory(side: number, memory: number): Promise<void> {
  const s = sides[side];
  await s.http.put(HELLO_WEB, helloWebWithMemory(memory));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const core = await getJson<Record<string, { PodInfos: Array<{ ContainerInfos: Array<{ Memory: number }> }> }>>(s.lainlet.port, '/v2/coreinfowatcher?appname=hello');
    if (core['hello.web.web']?.PodInfos[0]?.ContainerInfos[0]?.Memory === memory) return;
    if (Date.now() > deadline) throw new Error(`lainlet ${side} did not show memory ${memory}`);
    await sleep(50);
  }
}

test('two lainlets on the same data: every answer equal, exit 0', { timeout: 60_000 }, async () => {
  const r = await diff();
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /names from A: 11 apps, 3 nodes/);
  assert.match(r.out, /all \d+ answers equal/);
  // One row per route, every one equal.
  assert.match(r.out, /\/v2\/coreinfowatcher\s+\d+\s+\d+\s+0\s+0\s+equal/);
  assert.doesNotMatch(r.out, /differ$/m);
});

test('one value changed on one side: exit 1, the route and the JSON path named', { timeout: 60_000 }, async () => {
  const original = JSON.parse(cluster[HELLO_WEB]).Spec.Pod.Containers[0].MemoryLimit as number;
  await setMemory(1, original + 1);
  try {
    const r = await diff('--show', '50');
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /\/v2\/coreinfowatcher\s+\d+\s+\d+\s+[1-9]\d*\s+0\s+differ/);
    assert.ok(
      r.out.includes(`/v2/coreinfowatcher?appname=hello: $["hello.web.web"].PodInfos[0].ContainerInfos[0].Memory: A ${original}, B ${original + 1}`),
      r.out,
    );
    // Routes that do not show the memory stay equal.
    assert.match(r.out, /\/v2\/procwatcher\s+\d+\s+\d+\s+0\s+0\s+equal/);
  } finally {
    await setMemory(1, original);
  }
});

test('--for: a change that reaches both sides during the window is not reported', { timeout: 60_000 }, async () => {
  const original = JSON.parse(cluster[HELLO_WEB]).Spec.Pod.Containers[0].MemoryLimit as number;
  // A has the change when the check starts; B gets it 1.5 s later, inside the window. One
  // pass, without re-checking its differences, would report coreinfo as different.
  await setMemory(0, original + 2);
  const later = sleep(1_500).then(() => sides[1].http.put(HELLO_WEB, helloWebWithMemory(original + 2)));
  try {
    const r = await diff('--for', '1', '--settle', '3');
    await later;
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /all \d+ answers equal/);
  } finally {
    await later;
    await Promise.all([setMemory(0, original), setMemory(1, original)]);
  }
  // And a difference that stays is still reported with --for.
  await setMemory(1, original + 3);
  try {
    const r = await diff('--for', '1', '--settle', '1');
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /Memory: A \d+, B \d+$/m);
  } finally {
    await setMemory(1, original);
  }
});
