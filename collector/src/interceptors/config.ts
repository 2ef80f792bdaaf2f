/**
 * Building blocks for interceptor configs: the schema helpers every spec uses, and the checks a
 * schema cannot express (regex syntax, field paths, topic names, "one of these two keys"). A
 * factory collects every problem it finds and throws them together as an InterceptorConfigError,
 * which buildChain reports under the entry's path (`sources.web.interceptors[2].pattern`).
 */
import { nestedRepetition } from './regex-safety.ts';
import { Type, type TLiteral, type TProperties, type TUnion } from '@sinclair/typebox';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { isValidTopic } from '../../../shared/src/event.ts';
import { joinPath, type ConfigProblem } from '../../../shared/src/spec.ts';
import { parseFieldPath, type FieldPath } from './field-path.ts';

/** What the chain does with an event when this step throws (see docs/interceptors.md). */
export const OnError = stringEnum(['drop', 'pass'], {
  default: 'drop',
  description:
    'When this step fails on an event: `drop` it (counted, with the error) or `pass` it on unchanged to the next step.',
});

/**
 * An interceptor's config schema: its own keys plus `on_error`, which the chain reads. Every
 * object is closed (`additionalProperties: false`).
 */
export function interceptorConfig<T extends TProperties>(properties: T) {
  return Type.Object({ ...properties, on_error: OnError }, { additionalProperties: false });
}

/** A string that must be one of `values` (a union of literals, so TypeBox checks it). */
export function stringEnum<const V extends readonly [string, ...string[]]>(
  values: V,
  options: { description: string; default?: V[number] },
): TUnion<TLiteral<V[number]>[]> {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  ) as TUnion<TLiteral<V[number]>[]>;
}

/** Problems found by a factory; `problems[].path` is relative to the interceptor's entry (`pattern`, `operations.1.field`). */
export class InterceptorConfigError extends SluiceError {
  readonly problems: ConfigProblem[];

  constructor(type: string, problems: ConfigProblem[]) {
    super(
      ErrorCodes.CONFIG_INVALID,
      `interceptor "${type}": ${problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ')}`,
      { where: problems[0]?.path },
    );
    this.name = 'InterceptorConfigError';
    this.problems = problems;
  }
}

/**
 * Collects a factory's problems. Keys are JSON-pointer-like segments (`['operations', 1, 'field']`)
 * so paths come out as validateConfig writes them.
 */
export class ConfigChecks {
  readonly problems: ConfigProblem[] = [];

  constructor(readonly type: string) {}

  problem(at: (string | number)[], message: string): void {
    this.problems.push({ path: joinPath('', '/' + at.join('/')), message });
  }

  /**
   * Compiles a regular expression (JavaScript syntax); a syntax error is a problem, not a crash.
   * So is a pattern that can backtrack for exponential time — a repeated group that itself
   * repeats, like `(a+)+` — since a chain runs on the ingest path and one such event would stall
   * the collector (regex-safety.ts).
   */
  regex(source: string, flags: string, at: (string | number)[]): RegExp | undefined {
    try {
      const re = new RegExp(source, flags);
      if (nestedRepetition(source)) {
        this.problem(at, 'this regular expression can take exponential time on some input (a repeated group that itself repeats, like (a+)+): rewrite it without nested repetition');
        return undefined;
      }
      return re;
    } catch (error) {
      const reason = error instanceof Error ? error.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '') : String(error);
      this.problem(at, `invalid regular expression: ${reason}`);
      return undefined;
    }
  }

  fieldPath(text: string, at: (string | number)[]): FieldPath | undefined {
    const parsed = parseFieldPath(text);
    if (typeof parsed === 'string') {
      this.problem(at, parsed);
      return undefined;
    }
    return parsed;
  }

  topic(name: string, at: (string | number)[]): void {
    if (!isValidTopic(name)) this.problem(at, `"${name}" is not a valid topic name (letters, digits, '.', '_', '-'; 1–249 characters)`);
  }

  /** Throws the collected problems, if any. Call once all checks ran. */
  done(): void {
    if (this.problems.length > 0) throw new InterceptorConfigError(this.type, this.problems);
  }
}
