// Keeps the last part of a child process's output, for error messages and failing-test
// diagnostics, without letting a chatty process grow memory without bound.
import type { Readable } from 'node:stream';

export class OutputTail {
  private chunks: string[] = [];
  private size = 0;

  constructor(private readonly maxChars = 64 * 1024) {}

  /** Collect everything `stream` emits from now on. */
  follow(stream: Readable | null, prefix = ''): void {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => this.append(prefix ? prefixLines(chunk, prefix) : chunk));
  }

  append(text: string): void {
    this.chunks.push(text);
    this.size += text.length;
    while (this.size > this.maxChars && this.chunks.length > 1) {
      this.size -= this.chunks.shift()!.length;
    }
  }

  /** The collected text, at most `maxChars` characters (the newest ones). */
  text(maxChars = this.maxChars): string {
    const all = this.chunks.join('');
    return all.length > maxChars ? all.slice(all.length - maxChars) : all;
  }

  /** The last `n` lines. */
  lastLines(n: number): string {
    return this.text().trimEnd().split('\n').slice(-n).join('\n');
  }
}

function prefixLines(chunk: string, prefix: string): string {
  return chunk.replace(/^(?=.)/gm, prefix);
}
