// Our etcd proto reads a response header's member id as a bool: whether etcd wrote the header
// (a grpc-proxy leaves the id out of a watch create it answers itself). Checked against etcd's
// own definition of the header (etcdserverpb.ResponseHeader: four uint64/int64 fields), encoded
// here by protobufjs, independently of our generated code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { WatchResponse } from '../../src/store/gen/rpc.js';

const root = protobuf.Root.fromJSON({
  nested: {
    ResponseHeader: {
      fields: { cluster_id: { type: 'uint64', id: 1 }, member_id: { type: 'uint64', id: 2 }, revision: { type: 'int64', id: 3 }, raft_term: { type: 'uint64', id: 4 } },
    },
    WatchResponse: {
      fields: { header: { type: 'ResponseHeader', id: 1 }, watch_id: { type: 'int64', id: 2 }, created: { type: 'bool', id: 3 } },
    },
  },
});
const EtcdWatchResponse = root.lookupType('WatchResponse');

function encode(header: Record<string, unknown>): Uint8Array {
  return EtcdWatchResponse.encode(EtcdWatchResponse.fromObject({ header, watch_id: 7, created: true })).finish();
}

test("a header etcd wrote (member id set, above 2^53 as etcd's random ids are) decodes as etcd's, with its revision", () => {
  const res = WatchResponse.decode(encode({ cluster_id: '14841639068965178418', member_id: '10276657743932975437', revision: 4242, raft_term: 3 }));
  assert.equal(res.header?.memberId, true);
  assert.equal(res.header?.revision, 4242);
  assert.equal(res.watchId, 7);
  assert.equal(res.created, true);
});

test('a small member id is still a member id', () => {
  assert.equal(WatchResponse.decode(encode({ member_id: 1, revision: 5 })).header?.memberId, true);
});

test("the create a grpc-proxy answers itself (only the revision: the client's start) decodes as the proxy's", () => {
  const res = WatchResponse.decode(encode({ revision: 2001 }));
  assert.equal(res.header?.memberId, false);
  assert.equal(res.header?.revision, 2001);
});
