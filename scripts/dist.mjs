#!/usr/bin/env node
// `npm run dist`: builds dist/lainlet, one executable file that runs on a node with no Node.js
// and no node_modules (Node's single executable applications):
//   1. esbuild bundles the CLI (daemon, get, watch, diff, demo) and its dependencies into one
//      CommonJS file: a SEA's main script can require() only Node's built-in modules;
//   2. `node --experimental-sea-config` turns it, with the files lainlet reads at run time
//      (src/util/package-file.ts), into a blob;
//   3. postject injects the blob into a copy of the node binary that runs this script.
// The result is a linux-x64 executable when built on linux-x64 (it is that node binary).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
// `--out PATH` builds somewhere else (the tests build into a temp dir).
const { values: cli } = parseArgs({ options: { out: { type: 'string' } } });
const out = resolve(cli.out ?? join(root, 'dist/lainlet'));
// Files read at run time through readPackageFile(), embedded under the same names.
const ASSETS = ['package.json', 'fixtures/cluster-small.json'];
// The fuse every SEA-capable node binary carries; postject flips it to say "a blob is here".
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const POSTJECT = join(root, 'node_modules/postject/dist/cli.js');

/** Runs a build step; its chatter (postject's LIEF warns about Node's ELF notes) only if it fails. */
function quiet(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: 'pipe' });
  } catch (err) {
    process.stderr.write(`${err.stdout ?? ''}${err.stderr ?? ''}`);
    throw err;
  }
}

// A node built without SEA support (some distributions' shared-library builds) would give an
// executable that runs as a plain node; say so instead.
if (!readFileSync(process.execPath).includes(SEA_FUSE)) {
  process.stderr.write(`${process.execPath} (node ${process.version}) cannot make a single executable: it has no ${SEA_FUSE}; build with an official Node.js 20 binary\n`);
  process.exit(1);
}

const started = Date.now();
const work = mkdtempSync(join(tmpdir(), 'lainlet-dist-'));
try {
  const bundle = join(work, 'lainlet.cjs');
  await build({
    // The entry runs the CLI's main(); src/cli/main.ts only runs itself when it is the script.
    stdin: {
      contents: "import { main } from './src/cli/main.ts';\nvoid main(process.argv.slice(2));\n",
      resolveDir: root,
      sourcefile: 'sea-entry.ts',
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: bundle,
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    legalComments: 'none',
    // A CommonJS bundle has no import.meta; the code that uses it (reading package files,
    // "am I the main script") takes the SEA path instead, so say so rather than warn.
    define: { 'import.meta.url': 'undefined' },
    logLevel: 'warning',
  });

  const blob = join(work, 'sea-prep.blob');
  const config = {
    main: bundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    // V8's compiled code for the bundle, made now instead of at every start.
    useCodeCache: true,
    assets: Object.fromEntries(ASSETS.map((name) => [name, join(root, name)])),
  };
  writeFileSync(join(work, 'sea-config.json'), JSON.stringify(config));
  quiet(process.execPath, ['--experimental-sea-config', join(work, 'sea-config.json')]);

  mkdirSync(dirname(out), { recursive: true });
  rmSync(out, { force: true });
  copyFileSync(process.execPath, out);
  chmodSync(out, 0o755);
  // Node's release binary carries its symbol tables (12 MB); binutils' strip drops them when it
  // is there (it must run before the injection). Symbols for native addons (.dynsym) stay.
  let stripped = false;
  try {
    execFileSync('strip', [out], { stdio: 'pipe' });
    stripped = true;
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  quiet(process.execPath, [POSTJECT, out, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);

  const mb = (statSync(out).size / 1e6).toFixed(1);
  const bundleKb = Math.round(statSync(bundle).size / 1e3);
  const shown = relative(process.cwd(), out).startsWith('..') ? out : relative(process.cwd(), out);
  process.stdout.write(`${shown}: ${mb} MB (node ${process.version}${stripped ? ' stripped' : ', not stripped: no strip on PATH'} + ${bundleKb} kB bundle), built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
