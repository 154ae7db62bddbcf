// Our own version, told apart from the Go binary's, with the API level clients can rely on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { API_VERSION, majorMinor, VERSION, VERSION_LINE } from '../../src/version.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('the version is the package version; the API level is the Go lainlet API reproduced (2.4)', () => {
  assert.equal(VERSION, (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string }).version);
  assert.match(VERSION, /^3\.\d+\.\d+/);
  assert.equal(API_VERSION, '2.4');
  assert.equal(majorMinor('2.4.3+git'), '2.4');
  assert.equal(majorMinor('v10.2'), '10.2');
  assert.equal(majorMinor('dev'), 'unknown');
});

test('`lainlet -v` prints our version and the Go release it is compatible with', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', `${root}src/cli/main.ts`, '-v'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(out, `${VERSION_LINE}\n`);
  assert.equal(VERSION_LINE, `lainlet ${VERSION} (Go lainlet 2.4.3 compatible)`);
});
