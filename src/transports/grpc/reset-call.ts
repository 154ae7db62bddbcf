// Cutting one gRPC call whose client stopped reading. grpc-js ends a call only by sending its
// status, and the status (HTTP/2 trailers) is queued behind the data the client never reads: the
// call, its framed message copies and its timers would stay forever. What frees them is an
// HTTP/2 RST_STREAM on that one stream, and grpc-js has no public API for it (call.destroy()
// only ends the JavaScript wrapper; the HTTP/2 stream and its buffers stay). Its server call
// keeps the Node Http2Stream as `stream` (1.10 to 1.14 at least); we reach it here, in one place,
// and `test/integration/security.test.ts` (item 6) fails if that stops working.
import { constants as h2 } from 'node:http2';
import type { ServerWritableStream } from '@grpc/grpc-js';

interface Http2StreamLike {
  close(code: number): void;
  readonly closed: boolean;
}

function isHttp2Stream(v: unknown): v is Http2StreamLike {
  return typeof v === 'object' && v !== null && typeof (v as Http2StreamLike).close === 'function' && 'rstCode' in v && 'session' in v;
}

/** The HTTP/2 stream under a grpc-js server call: the call, then its intercepting calls, down to the base call. */
function http2StreamOf(call: ServerWritableStream<unknown, unknown>): Http2StreamLike | undefined {
  let layer: unknown = (call as unknown as { call?: unknown }).call;
  for (let depth = 0; depth < 8 && typeof layer === 'object' && layer !== null; depth++) {
    const stream = (layer as { stream?: unknown }).stream;
    if (isHttp2Stream(stream)) return stream;
    layer = (layer as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

/**
 * Resets the call's HTTP/2 stream with ENHANCE_YOUR_CALM (the client sees RESOURCE_EXHAUSTED,
 * `Bandwidth exhausted or memory limit exceeded`). False when the stream could not be found.
 */
export function resetCall(call: ServerWritableStream<unknown, unknown>): boolean {
  const stream = http2StreamOf(call);
  if (!stream) return false;
  if (!stream.closed) stream.close(h2.NGHTTP2_ENHANCE_YOUR_CALM);
  return true;
}
