import { readPackageFile } from './util/package-file.js';

/** This build's own version (the npm package version). */
export const PACKAGE_VERSION: string = (JSON.parse(readPackageFile('package.json')) as { version: string }).version;

/**
 * What `/version` and `-v` answer: the version of the Go lainlet whose API this one reproduces.
 * Deployment scripts and clients compare this string, so a drop-in replacement must give the
 * same one; /debug reports PACKAGE_VERSION beside it.
 */
export const VERSION = '2.4.3+git';
