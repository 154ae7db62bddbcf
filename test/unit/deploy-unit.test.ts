// deploy/lainlet.service stays in step with the flags and the stop behaviour: its ExecStart is
// a command line our flag parser accepts with the Go unit's settings, and its stop settings
// give our SIGTERM handling (exit within 5 s) the time it needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags } from '../../src/cli/flags.js';
import { unitExecStart, unitSection as section } from '../helpers/systemd-unit.js';

test("the unit's ExecStart runs lainlet itself with the Go unit's flags", () => {
  const service = section('Service');
  const argv = unitExecStart('10.0.0.5');
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
