// Files that ship with lainlet and are read at run time (package.json for the version, the
// demo's sample cluster). Installed from npm they sit in the package folder; the single
// executable (`npm run dist`, scripts/dist.mjs) has no folder, so it carries them as embedded
// assets under the same relative paths, and `node:sea` hands them back.
import { readFileSync } from 'node:fs';
import { getAsset, isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';

/** The text of a file shipped with lainlet, by its path from the package root (`fixtures/x.json`). */
export function readPackageFile(path: string): string {
  if (isSea()) return getAsset(path, 'utf8');
  // This module is src/util/*.ts under tsx and dist/util/*.js after the build: two levels
  // below the package root either way.
  return readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), 'utf8');
}
