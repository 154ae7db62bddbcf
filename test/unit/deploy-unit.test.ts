// deploy/lainlet.service stays in step with the flags and the stop behaviour: its ExecStart is
// a command line our flag parser accepts with the Go unit's settings, and its stop settings
// give our SIGTERM handling (exit within 5 s) the time it needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseFlags } from '../../src/cli/flags.js';

const UNIT = readFileSync(new URL('../../deploy/lainlet.service', import.meta.url), 'utf8');

/** `Key=value` settings of one section, continuation lines joined, comments dropped. */
function section(name: string): Map<string, string> {
  const lines = UNIT.replace(/\\\n\s*/g, ' ').split('\n');
  const settings = new Map<string, string>();
  let inside = false;
  for (const line of lines) {
    if (/^\[.*\]$/.test(line.trim())) inside = line.trim() === `[${name}]`;
    else if (inside && /^\w+=/.test(line)) settings.set(line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1).trim());
  }
  return settings;
}

test("the unit's ExecStart runs lainlet itself with the Go unit's flags", () => {
  const service = section('Service');
  // systemd substitutes ${NODE_IP} from the EnvironmentFile; words are split on spaces.
  const argv = (service.get('ExecStart') ?? '').replaceAll('${NODE_IP}', '10.0.0.5').split(/\s+/);
  assert.equal(argv[0], '/usr/bin/lainlet', 'no wrapper between systemd and lainlet');
  const parsed = parseFlags(argv.slice(1));
  assert.equal(parsed.kind, 'run');
  const o = (parsed as Extract<typeof parsed, { kind: 'run' }>).options;
  assert.deepEqual([o.web, o.grpcAddr, o.etcd, o.ip], [':9001', ':9000', ['10.0.0.5:4001'], '10.0.0.5']);
  assert.equal(service.get('EnvironmentFile'), '/etc/default/lainlet');
});

test('the unit restarts lainlet always and stops it with SIGTERM, leaving it more than 5 s before SIGKILL', () => {
  const service = section('Service');
  assert.equal(service.get('Restart'), 'always');
  assert.equal(service.get('KillSignal') ?? 'SIGTERM', 'SIGTERM');
  assert.ok(Number(service.get('TimeoutStopSec')) > 5, `TimeoutStopSec=${service.get('TimeoutStopSec')}`);
  assert.equal(section('Install').get('WantedBy'), 'multi-user.target');
});
