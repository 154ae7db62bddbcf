// The client's route table matches the server's views; addresses and names resolve.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROUTES, findRoute } from '../../src/client/routes.js';
import { parseAddr, pathWithQuery } from '../../src/client/http.js';
import { views } from '../../src/views/index.js';

test('one entry per view, same path and watchability', () => {
  assert.deepEqual(
    ROUTES.map((r) => [r.path, r.watchable]).sort(),
    views.map((v) => [v.path, v.watchable]).sort(),
  );
  assert.equal(new Set(ROUTES.map((r) => r.name)).size, ROUTES.length);
});

test('routes by name, path, or path without /v2/', () => {
  assert.equal(findRoute('coreinfo')?.path, '/v2/coreinfowatcher');
  assert.equal(findRoute('/v2/coreinfowatcher')?.name, 'coreinfo');
  assert.equal(findRoute('coreinfowatcher')?.name, 'coreinfo');
  assert.equal(findRoute('webrouter/webprocs/')?.name, 'webprocs');
  assert.equal(findRoute('/appname')?.name, 'appname');
  assert.equal(findRoute('nope'), undefined);
});

test('addresses', () => {
  assert.deepEqual(parseAddr('127.0.0.1:9001'), { hostname: '127.0.0.1', port: 9001 });
  assert.deepEqual(parseAddr(':9001'), { hostname: '127.0.0.1', port: 9001 });
  assert.deepEqual(parseAddr('http://[::1]:9001/'), { hostname: '::1', port: 9001 });
  assert.deepEqual(parseAddr('lainlet.lain:80'), { hostname: 'lainlet.lain', port: 80 });
  assert.throws(() => parseAddr('127.0.0.1'), /HOST:PORT/);
  assert.throws(() => parseAddr('h:70000'), /range/);
  assert.equal(pathWithQuery('/v2/nodes', { name: 'node 1', x: undefined }), '/v2/nodes?name=node+1');
});
