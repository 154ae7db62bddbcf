// Mutation testing (`npm run test:mutation`, not part of `npm test`): StrykerJS plants one small
// bug at a time in the core modules and runs the test files that reach it; a mutant that no test
// notices is a hole in the tests (or an equivalent change, listed in the README with why).
// node:test files print TAP when run directly, so the tap runner runs each file as its own process
// (through tsx) and coverage is per file. The store's tests need a real etcd (they start one).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  plugins: ['@stryker-mutator/tap-runner', './stryker.ignore-logging.mjs'],
  ignorers: ['logging'],
  testRunner: 'tap',
  tap: {
    testFiles: [
      'test/unit/auth.test.ts',
      'test/unit/security.test.ts',
      'test/unit/hub.test.ts',
      'test/unit/decode.test.ts',
      'test/unit/mirror.test.ts',
      'test/unit/lainlets-view.test.ts',
      'test/unit/views-golden.test.ts',
      'test/integration/store.test.ts',
    ],
    nodeArgs: ['--import', 'tsx', '--require', '{{hookFile}}', '{{testFile}}'],
    forceBail: true,
  },
  coverageAnalysis: 'perTest',
  // etcd-client.ts is left out: channel options and thin request wrappers, each mutant a full etcd test file.
  mutate: ['src/auth/**/*.ts', 'src/views/hub.ts', 'src/state/**/*.ts', 'src/store/etcd-store.ts'],
  // Re-runs only the mutants whose code or tests changed since the last run.
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  concurrency: 2,
  timeoutMS: 10_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 85, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
