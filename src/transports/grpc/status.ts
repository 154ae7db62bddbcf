// lainlet's HTTP outcomes as gRPC statuses (same messages), and the caller's IP from grpc-js's peer.
import { status as Status, type StatusObject } from '@grpc/grpc-js';
import type { Metadata } from '@grpc/grpc-js';
import { isIP } from 'node:net';

export type GrpcError = Pick<StatusObject, 'code' | 'details'> & { metadata?: Metadata };

/**
 * An HTTP status and message -> a gRPC status with the same message. The Go server returned
 * plain errors (code UNKNOWN) for everything; ours keeps its messages and gives codes a client
 * can act on:
 * - 400 `authorize failed, ...` -> PERMISSION_DENIED; other 400s (a missing parameter) -> INVALID_ARGUMENT
 * - 503 (not synced yet) -> UNAVAILABLE (retry)
 * - 500 from a view (e.g. webrouter's `over half of the containers lost their IPs`,
 *   `/appname`'s `unkown address`) -> UNKNOWN, as Go; a lainlet bug (`internal error: ...`) -> INTERNAL
 */
export function statusFor(httpStatus: number, message: string): GrpcError {
  let code: Status;
  if (httpStatus === 400) code = message.startsWith('authorize failed') ? Status.PERMISSION_DENIED : Status.INVALID_ARGUMENT;
  else if (httpStatus === 503) code = Status.UNAVAILABLE;
  else if (message.startsWith('internal error')) code = Status.INTERNAL;
  else code = Status.UNKNOWN;
  return { code, details: message };
}

export const NOT_READY: GrpcError = {
  code: Status.UNAVAILABLE,
  details: 'lainlet is starting: the cluster state is not loaded yet',
};

/**
 * grpc-js's `getPeer()`: `ADDRESS:PORT` (IPv6 unbracketed, e.g. `::1:5000`), sometimes with a
 * scheme (`ipv4:`/`ipv6:`) or brackets -> the IP, without the IPv4-mapped prefix.
 */
export function peerIp(peer: string): string {
  let s = peer.replace(/^(ipv4|ipv6):/, '');
  const m = /^\[(.+)\]:\d+$/.exec(s) ?? /^(.+):\d+$/.exec(s);
  if (m && isIP(m[1])) s = m[1];
  else if (/^\[.+\]$/.test(s)) s = s.slice(1, -1);
  return s.startsWith('::ffff:') ? s.slice(7) : s;
}
