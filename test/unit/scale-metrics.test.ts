// The scale bench reads etcd's Prometheus text: label filters must pick exactly the samples asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePrometheus, sumOf } from '../../bench/scale/etcd-metrics.js';

const TEXT = `# HELP grpc_server_handled_total Total number of RPCs completed on the server.
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{grpc_code="OK",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} 41
grpc_server_handled_total{grpc_code="Canceled",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} 2
grpc_server_handled_total{grpc_code="OK",grpc_method="RangeStream",grpc_service="x",grpc_type="unary"} 1000
grpc_server_handled_total{grpc_code="OK",grpc_method="LeaseKeepAlive",grpc_service="etcdserverpb.Lease",grpc_type="bidi_stream"} 3
grpc_server_msg_received_total{grpc_method="LeaseKeepAlive",grpc_service="etcdserverpb.Lease",grpc_type="bidi_stream"} 1.5e+03
etcd_debugging_mvcc_watch_stream_total 3
etcd_debugging_mvcc_watch_stream_total_extra 99
process_resident_memory_bytes 2.5227264e+07
garbage line without a value
`;

test('a label filter sums every sample of that method and no other', () => {
  const s = parsePrometheus(TEXT);
  assert.equal(sumOf(s, 'grpc_server_handled_total', { grpc_method: 'Range' }), 43);
  assert.equal(sumOf(s, 'grpc_server_handled_total', { grpc_method: 'Range', grpc_code: 'OK' }), 41);
  assert.equal(sumOf(s, 'grpc_server_handled_total'), 1046);
});

test('a metric name matches exactly, exponents are read, comments and malformed lines are skipped', () => {
  const s = parsePrometheus(TEXT);
  assert.equal(sumOf(s, 'etcd_debugging_mvcc_watch_stream_total'), 3);
  assert.equal(sumOf(s, 'grpc_server_msg_received_total', { grpc_method: 'LeaseKeepAlive' }), 1500);
  assert.equal(sumOf(s, 'process_resident_memory_bytes'), 25_227_264);
  assert.equal(sumOf(s, 'no_such_metric'), 0);
  assert.equal(s.length, 8);
});
