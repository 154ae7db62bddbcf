// The gRPC transport's pure parts: caller IP, status mapping, answer -> message conversion, and
// the Watch stream's encode-once and newest-only rules (with a stand-in for grpc-js's call).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { status as Status, type ServerWritableStream } from '@grpc/grpc-js';
import { SharedUpdate } from '../../src/views/hub.js';
import { i32, nodeValue } from '../../src/transports/grpc/convert.js';
import { ConfigReply, CoreinfoReply, NodeInfo_Value_Type } from '../../src/transports/grpc/gen/message.js';
import { VIEW_SERVICES } from '../../src/transports/grpc/services.js';
import { peerIp, statusFor } from '../../src/transports/grpc/status.js';
import { GrpcWatchStream } from '../../src/transports/grpc/watch-stream.js';

const service = (name: string) => VIEW_SERVICES.find((s) => s.name === name)!;

test('peerIp: grpc-js peers to the IP auth keys on', () => {
  assert.equal(peerIp('127.0.0.1:5000'), '127.0.0.1');
  assert.equal(peerIp('::1:5000'), '::1');
  assert.equal(peerIp('[::1]:5000'), '::1');
  assert.equal(peerIp('::ffff:172.20.0.5:43210'), '172.20.0.5');
  assert.equal(peerIp('ipv4:10.0.0.1:1'), '10.0.0.1');
  assert.equal(peerIp('fe80::1:2:443'), 'fe80::1:2');
});

test('statusFor: HTTP outcomes -> gRPC codes, same messages', () => {
  assert.deepEqual(statusFor(400, 'authorize failed, super required'), { code: Status.PERMISSION_DENIED, details: 'authorize failed, super required' });
  assert.deepEqual(statusFor(400, 'appname required'), { code: Status.INVALID_ARGUMENT, details: 'appname required' });
  assert.equal(statusFor(500, 'over half of the containers lost their IPs').code, Status.UNKNOWN);
  assert.equal(statusFor(500, 'internal error: boom').code, Status.INTERNAL);
  assert.equal(statusFor(503, 'starting').code, Status.UNAVAILABLE);
});

test('conversion: numbers wrap like Go int32, nodes keep every value', () => {
  assert.equal(i32(2 ** 31), -(2 ** 31));
  assert.equal(i32('x'), 0);
  assert.deepEqual(nodeValue('a'), { Vtype: NodeInfo_Value_Type.STRING, sval: 'a', mval: {} });
  assert.deepEqual(nodeValue({ a: 'b', n: 1e6 }), { Vtype: NodeInfo_Value_Type.MAP, sval: '', mval: { a: 'b', n: '1000000' } });
  assert.deepEqual(nodeValue(true), { Vtype: NodeInfo_Value_Type.STRING, sval: 'true', mval: {} });
});

test('every service encodes its view answer into a message that decodes back', () => {
  const coreinfo = JSON.stringify({
    'hello.web.web': {
      PodInfos: [
        {
          Annotation: '{}',
          ContainerInfos: [{ Command: null, ContainerId: 'c1', ContainerIp: '172.20.0.2', Cpu: 0, Env: ['A=1'], Expose: 80, Image: 'i', Memory: 2 ** 40, NodeIp: '10.0.0.1', NodeName: 'n1', Volumes: null }],
          Dependencies: null,
          InstanceNo: 1,
        },
      ],
    },
  });
  const decoded = CoreinfoReply.decode(service('Coreinfo').encode(Buffer.from(coreinfo)));
  const c = decoded.Data['hello.web.web'].PodInfos[0].Containers[0];
  assert.equal(c.Memory, 2 ** 40);
  assert.deepEqual(c.Command, []);
  assert.equal(c.Id, 'c1');
  assert.deepEqual(ConfigReply.decode(service('Config').encode(Buffer.from('{"a":"1"}'))), { Data: { a: '1' } });
});

class FakeCall extends EventEmitter {
  cancelled = false;
  readonly written: Buffer[] = [];
  readonly callbacks: Array<() => void> = [];
  write(message: Buffer, cb?: () => void): boolean {
    this.written.push(message);
    if (cb) this.callbacks.push(cb);
    return true;
  }
  /** The transport took the oldest message in flight. */
  drainOne(): void {
    this.callbacks.shift()?.();
  }
}

test('Watch streams: one encoding per change shared by all; a slow stream gets only the newest', () => {
  const config = service('Config');
  let encodings = 0;
  const encode = (u: SharedUpdate) =>
    u.encoded('grpc:Config', (x) => {
      encodings++;
      return config.encode(x.json);
    });
  const onError = () => ({ code: Status.INTERNAL, details: 'x' });
  const calls = [new FakeCall(), new FakeCall()];
  const streams = calls.map((c) => new GrpcWatchStream(c as unknown as ServerWritableStream<unknown, Buffer>, encode, onError));

  const updates = [1, 2, 3, 4].map((i) => new SharedUpdate(i, 'update', Buffer.from(JSON.stringify({ k: String(i) }))));
  for (const u of updates) for (const s of streams) s.update(u);
  assert.equal(encodings, 4, 'each change is encoded once, whatever the number of streams');
  // Both streams wrote the very same bytes for the first update.
  assert.equal(calls[0].written[0], calls[1].written[0]);

  // Stream 0 is slow: update 1 in flight, 2 and 3 replaced by 4.
  assert.equal(calls[0].written.length, 1);
  assert.equal(streams[0].backlog, 2);
  calls[0].drainOne();
  assert.equal(calls[0].written.length, 2);
  assert.deepEqual(ConfigReply.decode(calls[0].written[1]), { Data: { k: '4' } });
  calls[0].drainOne();
  assert.equal(streams[0].backlog, 0);

  // A cancelled stream stops writing and reports its end once.
  let ends = 0;
  streams[1].onClose = () => ends++;
  calls[1].emit('cancelled');
  calls[1].emit('close');
  streams[1].update(new SharedUpdate(5, 'update', Buffer.from('{"k":"5"}')));
  assert.equal(calls[1].written.length, 1);
  assert.equal(ends, 1);
});
