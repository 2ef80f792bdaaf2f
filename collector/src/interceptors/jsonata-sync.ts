/**
 * Synchronous JSONata. jsonata 2.x evaluates with async functions, but interceptors are
 * synchronous (DESIGN §4). Its published ES5 build (`jsonata-es5.js`) compiles those async
 * functions to generators that reach promises only through the free name `Promise`
 * (`new Promise`, `Promise.resolve`, `Promise.all`). This module compiles that file once, as a
 * function whose `Promise` parameter is InlinePromise: a promise whose callbacks run at once
 * instead of in a later microtask, so evaluate() has finished when it returns. The binding is
 * jsonata's own scope — no global is touched, on the event path or at load (the build's
 * `regeneratorRuntime` global is a parameter too) — and the evaluation never waits for I/O.
 * Callbacks nested deeper than MAX_DEPTH are queued and drained in a loop, so long sequences do
 * not grow the call stack.
 *
 * It used to swap `globalThis.Promise` for InlinePromise around every evaluation instead
 * (docs/decisions/interceptors-in-collector.md has the before/after figures).
 *
 * Cost, measured on the 2-core CI machine: ~3–5x the time of the native async build per
 * evaluation (roughly 45–80 µs for a small expression instead of 15–20 µs), i.e. 12–20k events/s
 * per JSONata step per core; the scoped binding costs the same as the swap did. See
 * docs/interceptors.md.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { compileFunction } from 'node:vm';
import type jsonataModule from 'jsonata';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';

type Jsonata = typeof jsonataModule;

const PENDING = 0;
const FULFILLED = 1;
const REJECTED = 2;
/** Callbacks nested deeper than this are queued instead of run on the spot. */
const MAX_DEPTH = 200;

let depth = 0;
const queued: Reaction[] = [];

function run(reaction: Reaction): void {
  if (depth >= MAX_DEPTH) {
    queued.push(reaction);
    return;
  }
  depth++;
  try {
    reaction.run();
  } finally {
    depth--;
  }
}

type Settle = { resolve(value: unknown): void; reject(reason: unknown): void };

class Reaction {
  constructor(
    readonly source: InlinePromise,
    readonly target: Settle,
    readonly onFulfilled?: (value: unknown) => unknown,
    readonly onRejected?: (reason: unknown) => unknown,
  ) {}

  run(): void {
    const { state, value } = this.source;
    const callback = state === FULFILLED ? this.onFulfilled : this.onRejected;
    if (typeof callback !== 'function') {
      if (state === FULFILLED) this.target.resolve(value);
      else this.target.reject(value);
      return;
    }
    let result: unknown;
    try {
      result = callback(value);
    } catch (error) {
      this.target.reject(error);
      return;
    }
    this.target.resolve(result);
  }
}

/** Just enough of Promise for jsonata: constructor, then, catch, resolve, reject, all. */
class InlinePromise {
  state: typeof PENDING | typeof FULFILLED | typeof REJECTED = PENDING;
  value: unknown = undefined;
  #locked = false;
  #reactions: Reaction[] = [];

  constructor(executor?: (resolve: (value: unknown) => void, reject: (reason: unknown) => void) => void) {
    if (executor === undefined) return;
    try {
      executor(
        (v) => this.resolve(v),
        (e) => this.reject(e),
      );
    } catch (error) {
      this.reject(error);
    }
  }

  resolve(value: unknown): void {
    if (this.#locked) return;
    this.#locked = true;
    this.#adopt(value);
  }

  reject(reason: unknown): void {
    if (this.#locked) return;
    this.#locked = true;
    this.#settle(REJECTED, reason);
  }

  #adopt(value: unknown): void {
    if (value === this) return this.#settle(REJECTED, new TypeError('a promise cannot resolve to itself'));
    if (value instanceof InlinePromise) {
      if (value.state !== PENDING) this.#settle(value.state, value.value);
      else value.#react(new Reaction(value, { resolve: (v) => this.#adopt(v), reject: (e) => this.#settle(REJECTED, e) }));
      return;
    }
    if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
      let then: unknown;
      try {
        then = (value as { then?: unknown }).then;
      } catch (error) {
        return this.#settle(REJECTED, error);
      }
      if (typeof then === 'function') {
        // A foreign thenable (a real Promise) settles later: the evaluation then does not finish
        // synchronously and evaluateSync reports it.
        let called = false;
        try {
          then.call(
            value,
            (v: unknown) => {
              if (called) return;
              called = true;
              this.#adopt(v);
            },
            (e: unknown) => {
              if (called) return;
              called = true;
              this.#settle(REJECTED, e);
            },
          );
        } catch (error) {
          if (!called) this.#settle(REJECTED, error);
        }
        return;
      }
    }
    this.#settle(FULFILLED, value);
  }

  #settle(state: typeof FULFILLED | typeof REJECTED, value: unknown): void {
    if (this.state !== PENDING) return;
    this.state = state;
    this.value = value;
    const reactions = this.#reactions;
    this.#reactions = [];
    for (const r of reactions) run(r);
  }

  #react(reaction: Reaction): void {
    if (this.state === PENDING) this.#reactions.push(reaction);
    else run(reaction);
  }

  then(onFulfilled?: (value: unknown) => unknown, onRejected?: (reason: unknown) => unknown): InlinePromise {
    const next = new InlinePromise();
    this.#react(new Reaction(this, next, onFulfilled, onRejected));
    return next;
  }

  catch(onRejected?: (reason: unknown) => unknown): InlinePromise {
    return this.then(undefined, onRejected);
  }

  static resolve(value: unknown): InlinePromise {
    if (value instanceof InlinePromise) return value;
    const p = new InlinePromise();
    p.resolve(value);
    return p;
  }

  static reject(reason: unknown): InlinePromise {
    const p = new InlinePromise();
    p.reject(reason);
    return p;
  }

  static all(items: Iterable<unknown>): InlinePromise {
    const all = new InlinePromise();
    const list = Array.from(items);
    const results = new Array<unknown>(list.length);
    let left = list.length;
    if (left === 0) all.resolve(results);
    list.forEach((item, i) =>
      InlinePromise.resolve(item).then(
        (v) => {
          results[i] = v;
          if (--left === 0) all.resolve(results);
        },
        (e) => all.reject(e),
      ),
    );
    return all;
  }
}

export interface JsonataError {
  code?: string;
  message?: string;
  position?: number;
  token?: string;
}

export interface SyncExpression {
  /** The result; undefined when the expression matched nothing. Throws jsonata's error objects. */
  evaluate(input: unknown, bindings?: Record<string, unknown>): unknown;
}

let inlineJsonata: Jsonata | undefined;

/**
 * jsonata's ES5 build (CommonJS), evaluated once the way Node's module loader would, with two more
 * names bound in its scope: `Promise` (InlinePromise) and `regeneratorRuntime` (which the build
 * would otherwise set as a global). Loaded on the first JSONata expression, so a collector without
 * one never reads the file (~350 KB).
 */
function loadInlineJsonata(): Jsonata {
  if (inlineJsonata) return inlineJsonata;
  const require = createRequire(import.meta.url);
  const file = require.resolve('jsonata/jsonata-es5.js');
  const body = compileFunction(readFileSync(file, 'utf8'), ['exports', 'require', 'module', '__filename', '__dirname', 'Promise', 'regeneratorRuntime'], { filename: file });
  const module = { exports: {} as unknown };
  body.call(module.exports, module.exports, require, module, file, dirname(file), InlinePromise, undefined);
  if (typeof module.exports !== 'function') throw new SluiceError(ErrorCodes.INTERNAL, `${file} did not export the jsonata function; is the jsonata package intact?`);
  inlineJsonata = module.exports as Jsonata;
  return inlineJsonata;
}

/** Parses `expression`; throws jsonata's error object (code, message, position) when it is malformed. */
export function compileJsonata(expression: string, options: { timeoutMs?: number } = {}): SyncExpression {
  const compiled = loadInlineJsonata()(expression, options.timeoutMs ? { timeout: options.timeoutMs } : undefined);
  return { evaluate: (input, bindings) => evaluateSync(compiled, input, bindings) };
}

function evaluateSync(expression: jsonataModule.Expression, input: unknown, bindings?: Record<string, unknown>): unknown {
  const outermost = depth === 0 && queued.length === 0;
  let result: InlinePromise;
  try {
    result = expression.evaluate(input, bindings) as unknown as InlinePromise;
    while (queued.length > 0) for (const r of queued.splice(0)) run(r);
  } finally {
    if (outermost) {
      depth = 0;
      queued.length = 0;
    }
  }
  if (result.state === FULFILLED) return result.value;
  if (result.state === REJECTED) throw result.value;
  throw new SluiceError(ErrorCodes.INTERCEPTOR_FAILED, 'the JSONata expression did not finish synchronously (it waited for something asynchronous)');
}

/** jsonata throws plain objects; this turns one into a readable line. */
export function jsonataMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  const e = error as JsonataError;
  const where = typeof e?.position === 'number' ? ` (at position ${e.position}${e.token ? `, near "${e.token}"` : ''})` : '';
  return `${e?.code ? `${e.code}: ` : ''}${e?.message ?? String(error)}${where}`;
}
