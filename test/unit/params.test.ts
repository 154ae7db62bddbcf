// Query parameters as the Go binary reads them: Go's url.ParseQuery rules, the first of repeated
// values, and `*` as a selector of everything. (The recorded Go answers for these cases are
// replayed in views-golden.test.ts and integration/compat.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { param, selectorKey } from '../../src/views/common.js';
import { goQueryParams } from '../../src/transports/http/params.js';

const read = (target: string, name: string) => param({ params: goQueryParams(target), callerIp: '127.0.0.1' }, name);

test('a repeated parameter is its first value; an empty value is no value', () => {
  assert.equal(read('/v2/procwatcher?appname=hello&appname=console', 'appname'), 'hello');
  assert.equal(read('/v2/procwatcher?appname=&appname=hello', 'appname'), undefined);
  assert.equal(read('/v2/procwatcher?appname', 'appname'), undefined);
  assert.equal(read('/v2/procwatcher', 'appname'), undefined);
});

test('pairs Go drops are dropped: a `;` in the pair, a bad `%` escape', () => {
  assert.equal(read('/x?appname=hello;x', 'appname'), undefined);
  assert.equal(read('/x?appname=hello;x&appname=console', 'appname'), 'console');
  assert.equal(read('/x?appname=%zz&appname=hello', 'appname'), 'hello');
  assert.equal(read('/x?appname=hello%', 'appname'), undefined);
  assert.equal(read('/x?app%zzname=a&appname=b', 'appname'), 'b');
});

test('values are unescaped as Go does: `+` is a space, `%XX` a byte, `=` after the first is kept', () => {
  assert.equal(read('/x?appname=he+llo', 'appname'), 'he llo');
  assert.equal(read('/x?appname=a%2Bb%2A', 'appname'), 'a+b*');
  assert.equal(read('/x?app%6Eame=hello', 'appname'), 'hello');
  assert.equal(read('/x?appname==hello', 'appname'), '=hello');
  assert.equal(read('/x?appname=%E4%B8%AD', 'appname'), '中');
  assert.equal(read('/x?&&appname=hello&&', 'appname'), 'hello');
  // Go does not treat `#` in a request target as a fragment.
  assert.equal(read('/x?appname=hello#frag', 'appname'), 'hello#frag');
});

test('a selector: `*` selects everything, other values end with their terminator', () => {
  assert.equal(selectorKey('*', '/'), '*');
  assert.equal(selectorKey('*', ':'), '*');
  assert.equal(selectorKey('hello', '/'), 'hello/');
  assert.equal(selectorKey('hello/', '/'), 'hello/');
  assert.equal(selectorKey('hel*', '/'), 'hel*/');
  assert.equal(selectorKey('node1', ':'), 'node1:');
  assert.equal(selectorKey('node1:', ':'), 'node1:');
  assert.equal(selectorKey('*:', ':'), '*:');
});
