#!/usr/bin/env node
// The published entry point: runs the compiled CLI (built by `npm run build`, which `npm ci` runs
// via `prepare`) in this same process, so the PID a supervisor starts is the daemon and gets its
// signals (test/integration/signals.test.ts).
import('../dist/cli/main.js').then((m) => m.main(process.argv.slice(2)));
