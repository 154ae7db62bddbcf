// A server-sent-events parser (the WHATWG event-stream rules), fed text chunks as they arrive.
// Unlike a browser's EventSource it also hands out events without data (lainlet's heartbeats).

export interface RawSseEvent {
  /** The `id:` field as sent; `''` when absent. */
  id: string;
  /** The `event:` field; `'message'` when absent. */
  event: string;
  /** The `data:` lines joined with `\n`; undefined when there were none. */
  data: string | undefined;
}

export class SseParser {
  private buffer = '';
  /** A `\r` ended the last chunk: a `\n` starting the next one belongs to it. */
  private pendingCr = false;
  private id = '';
  private event = '';
  private data: string[] = [];
  private hasFields = false;

  /** Feeds a chunk; returns the events it completed. */
  push(chunk: string): RawSseEvent[] {
    if (this.pendingCr && chunk.startsWith('\n')) chunk = chunk.slice(1);
    this.pendingCr = false;
    this.buffer += chunk;
    const out: RawSseEvent[] = [];
    let start = 0;
    for (;;) {
      const m = /\r\n|\r|\n/g;
      m.lastIndex = start;
      const hit = m.exec(this.buffer);
      if (!hit) break;
      // A lone `\r` at the very end may be the first half of `\r\n`: handled on the next chunk.
      if (hit[0] === '\r' && hit.index === this.buffer.length - 1) this.pendingCr = true;
      this.line(this.buffer.slice(start, hit.index), out);
      start = hit.index + hit[0].length;
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  private line(line: string, out: RawSseEvent[]): void {
    if (line === '') {
      if (this.hasFields) out.push({ id: this.id, event: this.event || 'message', data: this.data.length ? this.data.join('\n') : undefined });
      this.id = '';
      this.event = '';
      this.data = [];
      this.hasFields = false;
      return;
    }
    if (line.startsWith(':')) return; // comment
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      default:
        return; // `retry` and unknown fields: ignored
    }
    this.hasFields = true;
  }
}
