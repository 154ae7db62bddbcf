import { readPackageFile } from './util/package-file.js';

/**
 * This build's own version (the npm package version, e.g. `3.0.0`): what `/version` and gRPC
 * `Lainlet.Version` answer, so a caller can tell this lainlet from the Go binary (`2.4.3+git`).
 * Plain semver, like the Go binary's answer, for scripts that parse it.
 */
export const VERSION: string = (JSON.parse(readPackageFile('package.json')) as { version: string }).version;

/** The Go lainlet release whose API (flags, routes, JSON, event stream, gRPC wire) this one reproduces. */
export const GO_COMPATIBLE_VERSION = '2.4.3';

/**
 * The API level clients can rely on (gRPC `VersionReply.APIVersion`): `<major>.<minor>` of the Go
 * lainlet API this server implements, as the Go binary reported its own (`2.4`). It changes only
 * when the API does, not with this project's releases.
 */
export const API_VERSION: string = majorMinor(GO_COMPATIBLE_VERSION);

/** What `lainlet -v` prints. */
export const VERSION_LINE = `lainlet ${VERSION} (Go lainlet ${GO_COMPATIBLE_VERSION} compatible)`;

/** `2.4.3` -> `2.4`. */
export function majorMinor(version: string): string {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  return m ? `${m[1]}.${m[2]}` : 'unknown';
}
