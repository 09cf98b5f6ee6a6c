import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { captureNames, withoutCaptureNames } from '../../src/platform/capture-names.js';
import { compileRules } from '../../src/pipeline/rules.js';

describe('parse rules', () => {
  it('the first rule that matches makes the record, typed per `types`', () => {
    const parse = compileRules([
      { name: '/a/num', regex: '^(?<n>[+-]?\\d+) (?<ok>\\w+) (?<x>[\\d.]+)$', types: { n: 'int', ok: 'bool', x: 'float' } },
      { name: '/a/any', regex: '^(?<text>.*)$' },
    ]);
    expect(parse('-12 true 2.5')).toEqual({ rule: '/a/num', record: { n: -12, ok: true, x: 2.5 }, fromLine: true });
    // a value that does not convert means the rule does not match: the next one gets the line
    expect(parse('12 maybe 2.5')).toEqual({ rule: '/a/any', record: { text: '12 maybe 2.5' }, fromLine: true });
  });

  it('fields keep the order of the groups; an optional group that did not take part is null', () => {
    const parse = compileRules([{ name: '/o', regex: '^(?<b>\\w+)(?: (?<a>\\w+))?$' }]);
    expect(Object.entries(parse('x')!.record)).toEqual([['b', 'x'], ['a', null]]);
  });

  it('a json rule takes JSON object lines only, nested values kept as JSON text', () => {
    const parse = compileRules([{ name: '/j', json: true }]);
    expect(parse('{"a":1,"b":{"c":[1,2]},"d":null}')).toEqual({ rule: '/j', record: { a: 1, b: '{"c":[1,2]}', d: null }, fromLine: false });
    expect(parse('[1,2]')).toBeUndefined();
    expect(parse('{broken')).toBeUndefined();
  });

  it('captureNames maps every named group to its capture index, like RegExp groups', () => {
    const samples: Array<[string, string]> = [
      ['^(?<a>x)(y)(?<b>z)$', 'xyz'],
      ['^(?:p)(?<a>[(]+)\\((?<b>q)\\)$', 'p((q)'],
      ['(?<=s)(?<a>\\w)(?!k)(?<b>\\d)?', 'sa1'],
      ['^([a-z])(?<lvl>[A-Z]+)(\\[(?<in>[^\\]]*)\\])$', 'aWARN[x)y]'],
    ];
    for (const [src, text] of samples) {
      const m = new RegExp(src).exec(text)!;
      const names = captureNames(src);
      expect(names).toHaveLength(m.length - 1);
      const byIndex = Object.fromEntries(names.flatMap((n, i) => (n ? [[n, m[i + 1]]] : [])));
      expect(byIndex).toEqual({ ...m.groups });
    }
  });

  it('captureNames agrees with RegExp on generated patterns', () => {
    const atom = fc.constantFrom('a', '\\(', '[()]', '(?:b)', '(c)', '(?<g>d)', '\\\\', '[\\]]');
    fc.assert(
      fc.property(fc.array(atom, { minLength: 1, maxLength: 8 }), (atoms) => {
        let k = 0;
        const src = atoms.map((a) => a.replace('(?<g>', () => `(?<g${k++}>`)).join('');
        const groups = new RegExp(`${src}|`).exec('')!; // the empty alternative matches: length = 1 + captures
        expect(captureNames(src)).toHaveLength(groups.length - 1);
        expect(captureNames(src).filter(Boolean)).toEqual(Object.keys(groups.groups ?? {}));
      }),
    );
  });

  it('withoutCaptureNames keeps every group at its number, and gives up on \\k<name>', () => {
    const atom = fc.constantFrom('a', '\\(', '[()]', '[(?<x>)]', '(?:b)', '(c)', '(?<g>d)', '(?<=e)', '(?<!f)', '\\\\', '[\\]]');
    fc.assert(
      fc.property(fc.array(atom, { minLength: 1, maxLength: 8 }), fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', '(', ')', ']', '\\'), maxLength: 12 }), (atoms, text) => {
        let k = 0;
        const src = atoms.map((a) => a.replace('(?<g>', () => `(?<g${k++}>`)).join('');
        const plain = withoutCaptureNames(src)!;
        expect(plain).not.toMatch(/\(\?<g/);
        const named = new RegExp(src).exec(text);
        const unnamed = new RegExp(plain).exec(text);
        expect(unnamed && [...unnamed]).toEqual(named && [...named]);
      }),
    );
    expect(withoutCaptureNames('(?<a>x)\\k<a>')).toBeUndefined();
    // a rule using a backreference by name still parses (with the named regex)
    const parse = compileRules([{ name: '/k', regex: '^(?<w>\\w+) \\k<w>$' }]);
    expect(parse('ab ab')).toEqual({ rule: '/k', record: { w: 'ab' }, fromLine: true });
    expect(parse('ab cd')).toBeUndefined();
  });
});

