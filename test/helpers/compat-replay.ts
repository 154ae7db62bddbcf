// The compatibility replay, shared by every test that runs it (npm form, behind a proxy, the
// single executable): the Go lainlet's recorded answers (test/fixtures) against ours, through
// the probe tool (test/fixtures/lainlet_probe.py), on a real etcd that the probe starts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './lainlet.js';

const run = promisify(execFile);
export const FIXTURES = join(REPO_ROOT, 'test/fixtures');

/** Case files and the Go binary's recorded answers to them. */
export const CASE_SETS = {
  /** The contract's cases (recorded from the Go lainlet 2.4.3). */
  main: { cases: 'cases.json', answers: 'answers-go.json' },
  /** Explicit `*`, empty, repeated and odd parameters from local, super and app callers (record_go.py). */
  edge: { cases: 'cases-edge.json', answers: 'answers-go-edge.json' },
} as const;

/**
 * Deliberate difference: `/version` answers our own version, not the Go binary's `2.4.3+git`
 * (README "Differences from the Go binary"; checked in version.test.ts). Left out of the replay.
 */
const DIFFERS_ON_PURPOSE = (path: string) => path === '/version';

/** A fixture's GET cases (or recorded answers) without those that differ on purpose, in a temp file. */
function withoutDeliberateDifferences(dir: string, file: string): string {
  const content = JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as { gets?: Array<{ path: string }> };
  const out = join(dir, file);
  writeFileSync(out, JSON.stringify({ ...content, gets: (content.gets ?? []).filter((g) => !DIFFERS_ON_PURPOSE(g.path)) }));
  return out;
}

export interface ReplayOptions {
  /** The probe's lainlet command line, with `{web}` and `{etcd}` placeholders. */
  cmd: string;
  set?: keyof typeof CASE_SETS;
  /** The environment and directory lainlet runs in (the probe passes them on). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The python interpreter (default `python3` from PATH). */
  python?: string;
}

/** Records our answers through the probe, compares them with Go's and asserts `N passed, 0 failed`; returns that line. */
export async function compatReplay(opts: ReplayOptions): Promise<string> {
  const { cases, answers } = CASE_SETS[opts.set ?? 'main'];
  const python = opts.python ?? 'python3';
  const dir = mkdtempSync(join(tmpdir(), 'lainlet-compat-'));
  try {
    const ours = join(dir, 'ours.json');
    await run(python, [
      join(FIXTURES, 'lainlet_probe.py'), 'record', '--cmd', opts.cmd.replaceAll('{dir}', dir),
      '--fixture', join(FIXTURES, 'cluster-small.json'),
      '--overlay', join(FIXTURES, 'overlay-auth.json'),
      '--cases', withoutDeliberateDifferences(dir, cases),
      '--log', join(dir, 'lainlet.log'),
      '-o', ours,
    ], { timeout: 200_000, env: opts.env, cwd: opts.cwd });
    const { stdout } = await run(python, [join(FIXTURES, 'lainlet_probe.py'), 'compare', withoutDeliberateDifferences(dir, answers), ours]).catch(
      (err: { stdout?: string }) => ({ stdout: err.stdout ?? String(err) }),
    );
    const summary = stdout.trim().split('\n').pop() ?? '';
    assert.match(summary, /^\d+ passed, 0 failed$/, stdout);
    return summary;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
