import { readFileSync } from 'node:fs';

/** The version this build answers on `/version` and `-v`: the package version. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
