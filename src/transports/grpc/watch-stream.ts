// One gRPC Watch stream. Like the SSE connection, it never queues more than one message beyond
// the one being written: every message is the whole answer, so when the client reads slowly the
// newest message replaces the unsent one. A slow client skips intermediate answers but always
// ends on the latest.
import { status as Status, type ServerWritableStream } from '@grpc/grpc-js';
import type { HubWatcher, SharedUpdate } from '../../views/hub.js';
import { resetCall } from './reset-call.js';
import { statusFor, type GrpcError } from './status.js';

export type WatchEnd = 'client' | 'failed' | 'server' | 'stalled';

export class GrpcWatchStream implements HubWatcher {
  private writing = false;
  private pending: Buffer | null = null;
  private closed = false;
  private stallTimer: NodeJS.Timeout | null = null;
  onClose: (reason: WatchEnd) => void = () => {};

  constructor(
    private readonly call: ServerWritableStream<unknown, Buffer>,
    /** The update -> the serialized reply; shared by every stream of the query (SharedUpdate.encoded). */
    private readonly encode: (u: SharedUpdate) => Buffer,
    /** The reply could not be encoded: end the stream with this status. */
    private readonly onEncodeError: (err: unknown) => GrpcError,
    /** A message the client has not taken for this long (`-stall-timeout`) drops the stream, as HTTP does. */
    private readonly stallTimeoutMs: number = 60_000,
  ) {
    call.on('cancelled', () => this.close('client'));
    call.on('close', () => this.close('client'));
    call.on('error', () => this.close('client'));
  }

  /** Messages written or waiting: at most one in the transport and one pending. */
  get backlog(): number {
    return (this.writing ? 1 : 0) + (this.pending ? 1 : 0);
  }

  write(message: Buffer): void {
    if (this.closed) return;
    if (this.writing) {
      this.pending = message;
      return;
    }
    this.writing = true;
    // A client that stops reading keeps the message (a copy grpc-js frames per stream) and the
    // stream forever: past the stall limit the stream is reset and its memory freed.
    this.stallTimer = setTimeout(() => this.drop(), this.stallTimeoutMs).unref();
    // The callback runs once grpc-js has handed the message to the HTTP/2 stream (flow control
    // included): only then does the next one go, so nothing stale piles up in between.
    this.call.write(message, () => {
      this.clearStallTimer();
      this.writing = false;
      const next = this.pending;
      this.pending = null;
      if (next) this.write(next);
    });
  }

  update(u: SharedUpdate): void {
    let message: Buffer;
    try {
      message = this.encode(u);
    } catch (err) {
      this.end(this.onEncodeError(err));
      return;
    }
    this.write(message);
  }

  /** The answer can no longer be made (e.g. webrouter's safety rule), or the right to it was lost: end with its status. */
  fail(message: string, status: number): void {
    this.end(statusFor(status, message), 'failed');
  }

  /** Ends the stream with a status, after what was already written (the client reconnects). */
  end(status: GrpcError, reason: WatchEnd = 'failed'): void {
    if (this.closed) return;
    const last = this.pending;
    this.pending = null;
    if (last) this.call.write(last);
    this.close(reason);
    // grpc-js turns an 'error' on a server stream into its final status.
    this.call.emit('error', status);
  }

  /** The client stopped reading: reset its HTTP/2 stream (see reset-call.ts). */
  private drop() {
    if (this.closed) return;
    this.close('stalled');
    // Without the HTTP/2 stream at hand, at least end the call (its memory may stay until the client goes).
    if (!resetCall(this.call)) this.call.emit('error', { code: Status.RESOURCE_EXHAUSTED, details: 'the client stopped reading' });
  }

  private clearStallTimer() {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
  }

  private close(reason: WatchEnd) {
    if (this.closed) return;
    this.closed = true;
    this.pending = null;
    this.clearStallTimer();
    this.onClose(reason);
  }
}
