import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareBytewise, GoAny, goFloat, goJson, goString, sortKeysBytewise } from '../../src/encode/gojson.js';

describe('goString: Go escaping', () => {
  test('HTML-sensitive characters are escaped', () => {
    assert.equal(goString('<a href="x">&</a>'), '"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"');
  });
  test('line and paragraph separators are escaped', () => {
    assert.equal(goString('a\u2028b\u2029c'), '"a\\u2028b\\u2029c"');
  });
  test('\\n \\r \\t are short, other control characters \\u00XX (also \\b and \\f)', () => {
    assert.equal(goString('\n\r\t'), '"\\n\\r\\t"');
    assert.equal(goString('\b\f\u0001\u001f'), '"\\u0008\\u000c\\u0001\\u001f"');
  });
  test('DEL and non-ASCII are written as is', () => {
    assert.equal(goString('\u007f é 中 😀'), '"\u007f é 中 😀"');
  });
  test('an escaped backslash followed by b or f is not mistaken for \\b', () => {
    assert.equal(goString('\\b\\f<'), '"\\\\b\\\\f\\u003c"');
  });
  test('lone surrogates become U+FFFD, like Go does with invalid UTF-8', () => {
    assert.equal(goString('x\ud800y\udc00'), '"x\\ufffdy\\ufffd"');
  });
  test('plain strings match JSON.stringify', () => {
    assert.equal(goString('plain "quoted" \\ text'), JSON.stringify('plain "quoted" \\ text'));
  });
});

describe('goFloat: float64 from interface{}', () => {
  const cases: Array<[number, string]> = [
    [22, '22'],
    [1e6, '1000000'],
    [0.1, '0.1'],
    [-2.5, '-2.5'],
    [1e-6, '0.000001'],
    [1.5e-7, '1.5e-7'],
    [1e20, '100000000000000000000'],
    [1e21, '1e+21'],
    [1.25e100, '1.25e+100'],
    [-0, '-0'],
    [0, '0'],
  ];
  for (const [n, text] of cases) test(`${text}`, () => assert.equal(goFloat(n), text));
  test('non-finite numbers are refused', () => assert.throws(() => goFloat(Infinity)));
});

describe('goJson', () => {
  test('plain objects keep their field order (Go structs)', () => {
    assert.equal(goJson({ b: 1, a: [1, 2], c: null, d: 'x', e: true }), '{"b":1,"a":[1,2],"c":null,"d":"x","e":true}');
  });
  test('Maps are written with keys sorted bytewise, integer-like keys included', () => {
    const m = new Map<string, number>([
      ['b', 1],
      ['a', 2],
      ['9', 3],
      ['10', 4],
    ]);
    assert.equal(goJson(m), '{"10":4,"9":3,"a":2,"b":1}');
  });
  test('empty containers and null lists', () => {
    assert.equal(goJson({ list: [], none: null, map: new Map() }), '{"list":[],"none":null,"map":{}}');
  });
  test('GoAny: every object is a sorted map, numbers are float64', () => {
    const parsed: unknown = JSON.parse('{"z":1e6,"a":{"y":[1,{"d":0.5,"c":"<"}],"x":null},"10":true,"9":false}');
    assert.equal(goJson(new Map([['k', new GoAny(parsed)]])), '{"k":{"10":true,"9":false,"a":{"x":null,"y":[1,{"c":"\\u003c","d":0.5}]},"z":1000000}}');
  });
  test('GoAny keeps -0 and sorts integer-like keys bytewise', () => {
    assert.equal(goJson(new GoAny({ b: -0, 2: 'x', 10: [-0] })), '{"10":[-0],"2":"x","b":-0}');
  });
  test('undefined struct fields are null; a __proto__ key is an ordinary key', () => {
    assert.equal(goJson({ a: undefined }), '{"a":null}');
    assert.equal(goJson(new Map([['__proto__', 1], ['a', 2]])), '{"__proto__":1,"a":2}');
    assert.equal(goJson(new GoAny(JSON.parse('{"__proto__":{"z":1,"y":2}}'))), '{"__proto__":{"y":2,"z":1}}');
  });
  test('escapes are fixed across the whole answer, keys included', () => {
    assert.equal(goJson(new Map([['<k>', ['\b', '\b&']]])), '{"\\u003ck\\u003e":["\\u0008","\\u0008\\u0026"]}');
  });
  test('agrees with JSON.stringify on plain data', () => {
    const data = { name: 'hello.web.web', n: 3, list: ['a', 'b'], nested: { x: [{ y: 1 }] } };
    assert.equal(goJson(data), JSON.stringify(data));
  });
});

describe('bytewise key order', () => {
  test('characters above U+FFFF sort after U+E000..U+FFFF, as in UTF-8', () => {
    assert.ok(compareBytewise('\uffff', '😀') < 0);
    assert.ok(compareBytewise('😀', '\ue000') > 0);
    assert.deepEqual(sortKeysBytewise(['😀', '\uffff', 'a']), ['a', '\uffff', '😀']);
  });
  test('a prefix sorts first', () => {
    assert.ok(compareBytewise('ab', 'abc') < 0);
    assert.equal(compareBytewise('ab', 'ab'), 0);
  });
});
