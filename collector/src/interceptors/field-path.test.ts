import { describe, expect, it } from 'vitest';
import { deleteField, getField, parseFieldPath, setField } from './field-path.ts';

describe('field paths', () => {
  it('parses dots, indexes and quoted keys', () => {
    expect(parseFieldPath('a.b')).toEqual(['a', 'b']);
    expect(parseFieldPath('items[0].sku')).toEqual(['items', 0, 'sku']);
    expect(parseFieldPath('labels["app.kubernetes.io/name"]')).toEqual(['labels', 'app.kubernetes.io/name']);
    expect(parseFieldPath("['a b'][1]")).toEqual(['a b', 1]);
    expect(parseFieldPath('a["q\\"x"]')).toEqual(['a', 'q"x']);
  });

  it('refuses malformed paths with a reason', () => {
    for (const bad of ['', 'a.', '.a', 'a..b', 'a[', 'a[x]', 'a]b', 'a["x]']) expect(typeof parseFieldPath(bad), bad).toBe('string');
  });

  it('gets own properties only, and array elements by index or digits', () => {
    const doc = { a: [{ b: 1 }, { b: 2 }], o: {} };
    expect(getField(doc, ['a', 1, 'b'])).toBe(2);
    expect(getField(doc, ['a', '0', 'b'])).toBe(1);
    expect(getField(doc, ['a', 5])).toBeUndefined();
    expect(getField(doc, ['o', 'constructor'])).toBeUndefined();
    expect(getField(doc, ['a', 'length'])).toBeUndefined();
  });

  it('sets through missing objects, not through scalars or past the end of arrays', () => {
    const doc: Record<string, unknown> = { s: 'x', a: [1] };
    expect(setField(doc, ['n', 'm'], 1)).toBe(true);
    expect(setField(doc, ['s', 'm'], 1)).toBe(false);
    expect(setField(doc, ['a', 1], 2)).toBe(true);
    expect(setField(doc, ['a', 5], 2)).toBe(false);
    expect(doc).toEqual({ s: 'x', a: [1, 2], n: { m: 1 } });
  });

  it('deletes keys and array elements', () => {
    const doc = { a: { b: 1, c: 2 }, l: [1, 2, 3] };
    expect(deleteField(doc, ['a', 'b'])).toBe(true);
    expect(deleteField(doc, ['l', 1])).toBe(true);
    expect(deleteField(doc, ['a', 'zz'])).toBe(false);
    expect(doc).toEqual({ a: { c: 2 }, l: [1, 3] });
  });
});
