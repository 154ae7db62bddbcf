// Server-sent events, framed exactly as the Go lainlet writes them (docs/API.md, "Watch: the event stream"), on plain node:http.
// Each update's frame is built once and the same Buffer is written to every watcher.
import type { ServerResponse } from 'node:http';
import type { HubWatcher, SharedUpdate } from '../../views/hub.js';

export function sseFrame(id: number, event: string, data?: Buffer | string): Buffer {
  const head = `id: ${id}\nevent: ${event}\n`;
  if (data === undefined) return Buffer.from(head + '\n');
  // Clients in the field read exactly one `data:` line per event: never let a newline split it.
  const body = typeof data === 'string' ? Buffer.from(data.replace(/[\r\n]+/g, ' ')) : data;
  return Buffer.concat([Buffer.from(head + 'data: '), body, Buffer.from('\n\n')]);
}

const HEARTBEAT = sseFrame(0, 'heartbeat');

export const SSE_FORMAT = 'sse';

export function sseUpdateFrame(u: SharedUpdate): Buffer {
  return u.encoded(SSE_FORMAT, (x) => sseFrame(x.id, x.event, x.json));
}

export interface SseLimits {
  /** A watcher whose socket has not drained for this long is disconnected. */
  stallTimeoutMs: number;
}

/**
 * One watch connection. Never queues more than one pending frame: every frame carries the whole
 * answer, so when the socket is backed up the newest frame replaces the unsent one. A slow client
 * skips intermediate answers but always ends on the latest.
 */
export class SseConnection implements HubWatcher {
  private pending: Buffer | null = null;
  private stallTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private closed = false;
  onClose: (reason: 'client' | 'stalled' | 'failed' | 'server') => void = () => {};

  constructor(
    private readonly res: ServerResponse,
    private readonly limits: SseLimits,
  ) {
    res.on('drain', () => this.flushPending());
    res.on('close', () => this.close('client'));
  }

  static open(res: ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
  }

  startHeartbeat(seconds: number): void {
    this.heartbeatTimer = setInterval(() => {
      // A heartbeat behind a backed-up socket tells nothing: skip it.
      if (!this.pending) this.write(HEARTBEAT);
    }, seconds * 1000);
  }

  write(frame: Buffer): void {
    if (this.closed) return;
    if (this.res.writableNeedDrain) {
      this.pending = frame;
      return;
    }
    // The socket did not take it all: the client has until the stall limit to drain it.
    if (!this.res.write(frame)) this.stallTimer ??= setTimeout(() => this.close('stalled'), this.limits.stallTimeoutMs);
  }

  update(u: SharedUpdate): void {
    this.write(sseUpdateFrame(u));
  }

  fail(message: string): void {
    this.write(sseFrame(0, 'error', message));
    this.end('failed');
  }

  /** Ends the stream after what was written (the client reconnects). */
  end(reason: 'failed' | 'server'): void {
    if (this.closed) return;
    if (this.pending) {
      this.res.write(this.pending);
      this.pending = null;
    }
    this.res.end();
    this.close(reason);
  }

  private flushPending() {
    if (this.stallTimer) {
      clearTimeout(this.stallTimer);
      this.stallTimer = null;
    }
    const p = this.pending;
    this.pending = null;
    if (p) this.write(p);
  }

  private close(reason: 'client' | 'stalled' | 'failed' | 'server') {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.pending = null;
    if (reason === 'stalled') this.res.destroy();
    this.onClose(reason);
  }
}
