/**
 * Field paths into a decoded JSON or msgpack body: `user.id`, `items[0].sku`, `items.0.sku`,
 * `labels["app.kubernetes.io/name"]`. Only own properties are followed, and a `__proto__` key is
 * an ordinary key, so a body cannot reach or change prototypes.
 */

export type FieldPath = readonly (string | number)[];

const NAME = /^[^.[\]"']+/;

/** Parses a path; returns a message instead when it is malformed. */
export function parseFieldPath(text: string): FieldPath | string {
  const out: (string | number)[] = [];
  let rest = text;
  let expectName = true;
  if (text.length === 0) return 'empty field path';
  while (rest.length > 0) {
    if (rest.startsWith('[')) {
      const index = /^\[(\d+)\]/.exec(rest);
      const quoted = /^\[(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\]/.exec(rest);
      if (index) out.push(Number(index[1]));
      else if (quoted) out.push((quoted[1] ?? quoted[2]).replace(/\\(.)/g, '$1'));
      else return `malformed field path "${text}": expected [0] or ["key"] at "${rest}"`;
      rest = rest.slice((index ?? quoted)![0].length);
      expectName = false;
      continue;
    }
    if (!expectName) {
      if (!rest.startsWith('.')) return `malformed field path "${text}": expected "." or "[" at "${rest}"`;
      rest = rest.slice(1);
    }
    const name = NAME.exec(rest);
    if (!name) return `malformed field path "${text}": expected a field name at "${rest || '(end)'}"`;
    out.push(name[0]);
    rest = rest.slice(name[0].length);
    expectName = false;
  }
  return out;
}

function isContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  return typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && !(value instanceof Date);
}

function step(container: Record<string, unknown> | unknown[], segment: string | number): unknown {
  if (Array.isArray(container)) {
    const i = typeof segment === 'number' ? segment : /^\d+$/.test(segment) ? Number(segment) : -1;
    return i >= 0 && i < container.length ? container[i] : undefined;
  }
  const key = String(segment);
  return Object.prototype.hasOwnProperty.call(container, key) ? container[key] : undefined;
}

/** The value at `path`, or undefined when any part is missing. */
export function getField(root: unknown, path: FieldPath): unknown {
  let current: unknown = root;
  for (const segment of path) {
    if (!isContainer(current)) return undefined;
    current = step(current, segment);
  }
  return current;
}

function put(container: Record<string, unknown> | unknown[], segment: string | number, value: unknown): boolean {
  if (Array.isArray(container)) {
    const i = typeof segment === 'number' ? segment : /^\d+$/.test(segment) ? Number(segment) : -1;
    if (i < 0 || i > container.length) return false;
    container[i] = value;
    return true;
  }
  Object.defineProperty(container, String(segment), { value, enumerable: true, writable: true, configurable: true });
  return true;
}

/**
 * Sets `path` to `value` in place, creating missing objects on the way. Returns false (and
 * changes nothing) when the way is blocked: a scalar in the middle, or an array index past the end.
 * Mutates `root`: callers pass a value they decoded themselves, never the event's.
 */
export function setField(root: unknown, path: FieldPath, value: unknown): boolean {
  if (!isContainer(root) || path.length === 0) return false;
  let current: Record<string, unknown> | unknown[] = root;
  for (let i = 0; i < path.length - 1; i++) {
    let next = step(current, path[i]);
    if (next === undefined) {
      next = {};
      if (!put(current, path[i], next)) return false;
    }
    if (!isContainer(next)) return false;
    current = next;
  }
  return put(current, path[path.length - 1], value);
}

/** Removes `path` in place; returns whether something was removed. Array elements are spliced out. */
export function deleteField(root: unknown, path: FieldPath): boolean {
  if (path.length === 0) return false;
  const parent = getField(root, path.slice(0, -1));
  if (!isContainer(parent)) return false;
  const last = path[path.length - 1];
  if (Array.isArray(parent)) {
    const i = typeof last === 'number' ? last : /^\d+$/.test(last) ? Number(last) : -1;
    if (i < 0 || i >= parent.length) return false;
    parent.splice(i, 1);
    return true;
  }
  const key = String(last);
  if (!Object.prototype.hasOwnProperty.call(parent, key)) return false;
  delete parent[key];
  return true;
}
