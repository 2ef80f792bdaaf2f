/**
 * Component specs (STYLE "Components are specs"). Every source, interceptor and sink exports one
 * spec — name, one-line summary, a TypeBox config schema with defaults, descriptions and examples,
 * and a factory — and registers it once. Config validation, the reference docs and the desktop's
 * interceptor forms are all generated from these specs.
 */
import { type Static, type TSchema } from '@sinclair/typebox';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { ErrorCodes, SluiceError } from './errors.ts';
import { TOPIC_PATTERN } from './event.ts';

export type ComponentKind = 'source' | 'interceptor' | 'sink';

export interface ComponentExample {
  title: string;
  /** The component's config as a user writes it in YAML (without `type`). */
  config: Record<string, unknown>;
}

export interface ComponentSpec<S extends TSchema = TSchema, F = unknown> {
  kind: ComponentKind;
  /** The `type:` a user writes in the config. */
  name: string;
  /** One line, shown in docs and in the desktop's pickers. */
  summary: string;
  /** Config schema (without `type`); `additionalProperties: false` on every object. */
  config: S;
  examples: ComponentExample[];
  create: F;
}

export interface ConfigProblem {
  /** Dotted path, e.g. `sources.web.listen`. */
  path: string;
  /** In plain words, what is wrong and what was expected: `expected a duration such as 30s, 5m or 7d; got "soon"`. */
  message: string;
  /** The line of the config file it is on, when it came from one. */
  line?: number;
}

/** One problem as a user reads it: `line 4: channel.max_bytes: expected a size …`. */
export function formatProblem(problem: ConfigProblem): string {
  return `${problem.line === undefined ? '' : `line ${problem.line}: `}${problem.path}: ${problem.message}`;
}

/** Turns a JSON pointer (`/tls/cert`) under a base path into `base.tls.cert`. */
export function joinPath(base: string, pointer: string): string {
  const parts = pointer.split('/').filter(Boolean).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return [base, ...parts].filter(Boolean).join('.');
}

/**
 * Validates `input` against `schema` strictly: unknown keys are errors, every problem is reported
 * with its path, defaults are filled in. The result is deep-frozen.
 */
export function validateConfig<S extends TSchema>(schema: S, input: unknown, basePath: string): { value?: Static<S>; problems: ConfigProblem[] } {
  const withDefaults = Value.Default(schema, structuredClone(input ?? {}));
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const error of Value.Errors(schema, withDefaults)) {
    const path = joinPath(basePath, error.path);
    const message = describeSchemaError(error);
    const id = `${path}\u0000${message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    problems.push({ path, message });
  }
  if (problems.length > 0) return { problems: collapseNoise(problems) };
  return { value: deepFreeze(withDefaults as Static<S>), problems };
}

/**
 * Schema annotation: what a value must look like, in the words of an error message
 * (`a duration such as 30s, 5m or 7d`). Units and addresses carry it, so a mistake reads as what
 * was meant rather than as the schema's shape (`expected union value`).
 */
export const EXPECTED = 'expected';

const MISSING = 'missing (required)';

/** Patterns used across many schemas, in words (a schema may also say it with EXPECTED). */
const PATTERN_WORDS: Record<string, string> = {
  [TOPIC_PATTERN.source]: 'a topic name: 1 to 249 letters, digits, ".", "_" or "-"',
};

/** A TypeBox error in plain words: what was expected, and what was found. */
export function describeSchemaError(error: Pick<ValueError, 'type' | 'schema' | 'path' | 'value' | 'message'>): string {
  const { schema, value } = error;
  const key = lastKey(error.path);
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties: {
      const known = Object.keys((schema?.properties ?? {}) as Record<string, unknown>);
      const near = nearest(key, known);
      if (near) return `unknown key "${key}"; did you mean "${near}"?`;
      return known.length > 0 && known.length <= 12 ? `unknown key "${key}"; known keys: ${known.join(', ')}` : `unknown key "${key}"`;
    }
    case ValueErrorType.ObjectRequiredProperty:
      return MISSING;
    case ValueErrorType.StringMinLength:
      if (typeof value === 'string') return `too short: at least ${String(schema.minLength)} characters, got ${value.length}`;
      break;
    case ValueErrorType.StringMaxLength:
      if (typeof value === 'string') return `too long: at most ${String(schema.maxLength)} characters, got ${value.length}`;
      break;
    case ValueErrorType.StringPattern:
      if (schema[EXPECTED] === undefined) {
        const words = PATTERN_WORDS[schema.pattern as string];
        return `expected ${words ?? `text matching /${String(schema.pattern)}/`}${got(key, value)}`;
      }
      break;
    case ValueErrorType.ArrayMinItems:
      return `expected at least ${String(schema.minItems)} item${schema.minItems === 1 ? '' : 's'}`;
    case ValueErrorType.ArrayMaxItems:
      return `expected at most ${String(schema.maxItems)} items`;
    case ValueErrorType.ArrayUniqueItems:
      return 'expected every item once (duplicates found)';
    default:
      break;
  }
  if (value === undefined) return MISSING;
  const expected = expectedOf(schema);
  if (expected) return `expected ${expected}${got(key, value)}`;
  const lower = error.message.charAt(0).toLowerCase() + error.message.slice(1);
  if (typeof schema?.description === 'string' && /pattern|format/i.test(error.message)) return `${lower} (${schema.description})${got(key, value)}`;
  return `${lower}${got(key, value)}`;
}

/** What a schema accepts, in words; undefined when there is nothing better than TypeBox's message. */
function expectedOf(schema: TSchema | undefined): string | undefined {
  if (!schema) return undefined;
  if (typeof schema[EXPECTED] === 'string') return schema[EXPECTED] as string;
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const branches = schema.anyOf as TSchema[] | undefined;
  if (branches) {
    if (branches.every((b) => b.const !== undefined)) return `one of ${branches.map((b) => JSON.stringify(b.const)).join(', ')}`;
    const words = branches.map(expectedOf);
    if (words.every((w) => w !== undefined)) return words.join(', or ');
    return undefined;
  }
  if (schema.enum) return `one of ${(schema.enum as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  switch (schema.type) {
    case 'integer':
    case 'number': {
      const noun = schema.type === 'integer' ? 'a whole number' : 'a number';
      const min = schema.minimum ?? (schema.exclusiveMinimum === undefined ? undefined : `more than ${String(schema.exclusiveMinimum)}`);
      const max = schema.maximum ?? (schema.exclusiveMaximum === undefined ? undefined : `less than ${String(schema.exclusiveMaximum)}`);
      if (typeof min === 'number' && typeof max === 'number') return `${noun} from ${min} to ${max}`;
      const bounds = [typeof min === 'number' ? `at least ${min}` : min, typeof max === 'number' ? `at most ${max}` : max].filter(Boolean);
      return bounds.length > 0 ? `${noun}, ${bounds.join(' and ')}` : noun;
    }
    case 'boolean':
      return 'true or false';
    case 'null':
      return 'null';
    case 'string':
      return schema.pattern === undefined && schema.format === undefined ? 'text' : undefined;
    case 'array':
      return 'a list';
    case 'object':
      return 'a mapping (key: value)';
    default:
      return undefined;
  }
}

/** `; got "soon"` — never for values that may be secrets. */
function got(key: string, value: unknown): string {
  if (/token|password|secret|shared_key/i.test(key)) return '';
  if (value === null) return '; got null';
  if (Array.isArray(value)) return '; got a list';
  if (typeof value === 'object') return '; got a mapping';
  const text = JSON.stringify(value);
  return `; got ${text.length > 60 ? `${text.slice(0, 57)}…` : text}`;
}

function lastKey(pointer: string): string {
  const parts = pointer.split('/');
  return (parts[parts.length - 1] ?? '').replace(/~1/g, '/').replace(/~0/g, '~');
}

/** The known name closest to a misspelt one, if it is close enough to be what was meant. */
export function nearest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // At most a third of the name wrong (commander's suggestSimilar uses the same 0.4-ish bound).
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined;
}

/** Damerau–Levenshtein distance (optimal string alignment): a swapped pair of letters counts once. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** A missing key also fails its type check; say it once. */
function collapseNoise(problems: ConfigProblem[]): ConfigProblem[] {
  const missing = new Set(problems.filter((p) => p.message === MISSING).map((p) => p.path));
  return problems.filter((p) => p.message === MISSING || !missing.has(p.path));
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

/** A registry of specs of one kind. A duplicate or malformed registration throws at start-up. */
export class SpecRegistry<T extends ComponentSpec> {
  readonly #specs = new Map<string, T>();

  constructor(readonly kind: ComponentKind) {}

  register(spec: T): T {
    const bad = (why: string) =>
      new SluiceError(ErrorCodes.COMPONENT_REGISTRATION, `${this.kind} "${spec?.name}": ${why}`);
    if (!spec || typeof spec.name !== 'string' || !/^[a-z][a-z0-9_]*$/.test(spec.name)) throw bad('name must be lower_snake_case');
    if (spec.kind !== this.kind) throw bad(`is a ${spec.kind}, not a ${this.kind}`);
    if (this.#specs.has(spec.name)) throw bad('is registered twice');
    if (!spec.summary || spec.summary.includes('\n')) throw bad('needs a one-line summary');
    if (typeof spec.create !== 'function') throw bad('has no factory');
    if (!spec.config || spec.config.type !== 'object' || spec.config.additionalProperties !== false) {
      throw bad('config schema must be an object with additionalProperties: false');
    }
    if (!Array.isArray(spec.examples) || spec.examples.length === 0) throw bad('needs at least one example');
    this.#specs.set(spec.name, spec);
    return spec;
  }

  get(name: string): T | undefined {
    return this.#specs.get(name);
  }

  names(): string[] {
    return [...this.#specs.keys()].sort();
  }

  all(): T[] {
    return this.names().map((n) => this.#specs.get(n)!);
  }
}
