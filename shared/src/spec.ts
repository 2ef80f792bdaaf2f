/**
 * Component specs (STYLE "Components are specs"). Every source, interceptor and sink exports one
 * spec — name, one-line summary, a TypeBox config schema with defaults, descriptions and examples,
 * and a factory — and registers it once. Config validation, the reference docs and the desktop's
 * interceptor forms are all generated from these specs.
 */
import { type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ErrorCodes, SluiceError } from './errors.ts';

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
  message: string;
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
    const message = describeSchemaError(error.message, error.schema, error.value);
    const id = `${path}\u0000${message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    problems.push({ path, message });
  }
  if (problems.length > 0) return { problems: collapseUnionNoise(problems) };
  return { value: deepFreeze(withDefaults as Static<S>), problems };
}

function describeSchemaError(message: string, schema: TSchema, _value: unknown): string {
  if (/unexpected property|additional propert/i.test(message)) return 'unknown key';
  const choices = unionChoices(schema);
  if (choices && /union/i.test(message)) return `expected one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`;
  const lower = message.charAt(0).toLowerCase() + message.slice(1);
  if (typeof schema?.description === 'string' && /pattern|format|to match/i.test(message)) {
    if (/to match/i.test(message)) return `expected ${schema.description.charAt(0).toLowerCase()}${schema.description.slice(1)}`;
    return `${lower} (${schema.description})`;
  }
  return lower;
}

/** The allowed values of a union of literals, if that is what the schema is. */
function unionChoices(schema: TSchema | undefined): unknown[] | undefined {
  const branches = schema?.anyOf as TSchema[] | undefined;
  if (!branches || !branches.every((b) => b.const !== undefined)) return undefined;
  return branches.map((b) => b.const);
}

/** TypeBox reports unions both as a whole and per branch; keep the most specific line per path. */
function collapseUnionNoise(problems: ConfigProblem[]): ConfigProblem[] {
  const byPath = new Map<string, ConfigProblem[]>();
  for (const p of problems) byPath.set(p.path, [...(byPath.get(p.path) ?? []), p]);
  const out: ConfigProblem[] = [];
  for (const list of byPath.values()) {
    const specific = list.filter((p) => !/expected union value/i.test(p.message));
    out.push(...(specific.length > 0 ? specific : list));
  }
  return out;
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
