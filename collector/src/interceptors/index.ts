/**
 * The interceptor registry and the chain that runs a source's interceptors in order.
 *
 * Errors (docs/interceptors.md): an interceptor that throws on an event does not stop the
 * collector. The step's `on_error` decides: `drop` (the default) drops the event, `pass` hands it
 * on unchanged to the next step; either way the step's `failed` counter and `lastError` record it.
 * A step returning null drops the event and counts in `dropped`.
 */
import { errorMessage, ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import type { EventDraft } from '../../../shared/src/event.ts';
import { joinPath, SpecRegistry, validateConfig, type ConfigProblem } from '../../../shared/src/spec.ts';
import { InterceptorConfigError } from './config.ts';
import { interceptorContext } from './context.ts';
import { host } from './host.ts';
import { json } from './json.ts';
import { jsonataSpec } from './jsonata.ts';
import { redact } from './redact.ts';
import { regexExtractor } from './regex-extractor.ts';
import { regexFilter } from './regex-filter.ts';
import { removeHeader } from './remove-header.ts';
import { route } from './route.ts';
import { sample } from './sample.ts';
import { searchReplace } from './search-replace.ts';
import { staticHeader } from './static.ts';
import { timestamp } from './timestamp.ts';
import type { Interceptor, InterceptorConfig, InterceptorContext, InterceptorSpec } from './types.ts';
import { uuid } from './uuid.ts';

export { interceptorContext } from './context.ts';
export { InterceptorConfigError } from './config.ts';
export type { Interceptor, InterceptorConfig, InterceptorContext, InterceptorSpec } from './types.ts';

export const interceptors = new SpecRegistry<InterceptorSpec>('interceptor');
for (const spec of [timestamp, host, staticHeader, removeHeader, uuid, regexFilter, regexExtractor, searchReplace, json, sample, route, redact, jsonataSpec]) {
  interceptors.register(spec as unknown as InterceptorSpec);
}

/** One step of a built chain, with its counters (read them for metrics; they only grow). */
export interface ChainStep {
  /** Position in the list, from 0 (as in the config path). */
  index: number;
  type: string;
  /** Config path of the entry, e.g. `sources.web.interceptors[2]`. */
  path: string;
  onError: 'drop' | 'pass';
  /** Events this step dropped by returning null. */
  dropped: number;
  /** Events on which this step threw. */
  failed: number;
  lastError?: { message: string; at: number };
}

/** What happened to one event, for previews: "dropped by step 3 (regex_filter)". */
export interface ChainRun {
  event: EventDraft | null;
  /** The step that dropped the event, if one did; `reason` says whether it filtered or failed. */
  droppedBy: { index: number; type: string; path: string; reason: 'dropped' | 'failed'; error?: string } | null;
  /** Every step that threw, including those with `on_error: pass`. */
  errors: { index: number; type: string; path: string; message: string }[];
}

export interface ChainBuild {
  /** The hot path. When `problems` is not empty it throws instead: check `problems` first. */
  chain: Interceptor;
  /** Like `chain`, and says which step dropped the event and which failed. */
  runChain: (event: EventDraft) => ChainRun;
  steps: readonly ChainStep[];
  problems: ConfigProblem[];
}

interface BuiltStep extends ChainStep {
  interceptor: Interceptor;
}

/**
 * Validates every entry (all problems, with paths like `sources.web.interceptors[2].pattern`) and
 * builds the chain. `ctx` defaults to the clock, Math.random, crypto UUIDs and host `localhost`.
 */
export function buildChain(configs: readonly InterceptorConfig[], basePath: string, ctx?: Partial<InterceptorContext>): ChainBuild {
  const context = interceptorContext(ctx);
  const problems: ConfigProblem[] = [];
  const steps: BuiltStep[] = [];
  if (!Array.isArray(configs)) {
    problems.push({ path: basePath, message: 'expected a list of interceptors' });
    return failed(problems);
  }
  configs.forEach((entry, index) => {
    const path = `${basePath}[${index}]`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      problems.push({ path, message: `expected an object with a \`type\`; one of: ${interceptors.names().join(', ')}` });
      return;
    }
    if (typeof entry.type !== 'string') {
      problems.push({ path: `${path}.type`, message: `missing; one of: ${interceptors.names().join(', ')}` });
      return;
    }
    const spec = interceptors.get(entry.type);
    if (!spec) {
      problems.push({ path: `${path}.type`, message: `unknown interceptor "${entry.type}"; one of: ${interceptors.names().join(', ')}` });
      return;
    }
    const { type: _type, ...own } = entry;
    const validated = validateConfig(spec.config, own, path);
    if (!validated.value) {
      problems.push(...validated.problems.map((p) => explainUnion(spec, path, p)));
      return;
    }
    const value = validated.value as Record<string, unknown>;
    try {
      const interceptor = spec.create(value, context);
      steps.push({ index, type: spec.name, path, onError: value.on_error === 'pass' ? 'pass' : 'drop', dropped: 0, failed: 0, interceptor });
    } catch (error) {
      if (error instanceof InterceptorConfigError) {
        problems.push(...error.problems.map((p) => ({ path: joinPath(path, '/' + p.path.split('.').join('/')), message: p.message })));
      } else {
        problems.push({ path, message: `could not be set up: ${errorMessage(error)}` });
      }
    }
  });
  if (problems.length > 0) return failed(problems);

  const fail = (step: BuiltStep, error: unknown): string => {
    const message = errorMessage(error);
    step.failed++;
    step.lastError = { message, at: context.now() };
    return message;
  };

  const chain: Interceptor = (event) => {
    let current = event;
    for (const step of steps) {
      let out: EventDraft | null;
      try {
        out = step.interceptor(current);
      } catch (error) {
        fail(step, error);
        if (step.onError === 'drop') return null;
        continue;
      }
      if (out === null) {
        step.dropped++;
        return null;
      }
      current = out;
    }
    return current;
  };

  const runChain = (event: EventDraft): ChainRun => {
    const errors: ChainRun['errors'] = [];
    let current = event;
    for (const step of steps) {
      let out: EventDraft | null;
      try {
        out = step.interceptor(current);
      } catch (error) {
        const message = fail(step, error);
        errors.push({ index: step.index, type: step.type, path: step.path, message });
        if (step.onError === 'drop') return { event: null, droppedBy: { index: step.index, type: step.type, path: step.path, reason: 'failed', error: message }, errors };
        continue;
      }
      if (out === null) {
        step.dropped++;
        return { event: null, droppedBy: { index: step.index, type: step.type, path: step.path, reason: 'dropped' }, errors };
      }
      current = out;
    }
    return { event: current, droppedBy: null, errors };
  };

  return { chain, runChain, steps: steps.map(publicStep), problems };
}

/** Every problem of a chain, without keeping it (for `sluice check` and the desktop's forms). */
export function validateChain(configs: readonly InterceptorConfig[], basePath: string): ConfigProblem[] {
  return buildChain(configs, basePath).problems;
}

function failed(problems: ConfigProblem[]): ChainBuild {
  const chain: Interceptor = () => {
    throw new SluiceError(ErrorCodes.CONFIG_INVALID, `interceptor chain has problems: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  };
  return { chain, runChain: (event) => ({ event: chain(event), droppedBy: null, errors: [] }), steps: [], problems };
}

/** The step's counters, live: a view over the built step, without its function. */
function publicStep(step: BuiltStep): ChainStep {
  return {
    get index() { return step.index; },
    get type() { return step.type; },
    get path() { return step.path; },
    get onError() { return step.onError; },
    get dropped() { return step.dropped; },
    get failed() { return step.failed; },
    get lastError() { return step.lastError; },
  };
}

/**
 * TypeBox reports a wrong enum value as "expected union value"; when the schema at that path is a
 * union of string literals, say which values are allowed.
 */
function explainUnion(spec: InterceptorSpec, entryPath: string, problem: ConfigProblem): ConfigProblem {
  if (!/expected union value/i.test(problem.message) || !problem.path.startsWith(entryPath + '.')) return problem;
  let schema: Record<string, unknown> | undefined = spec.config as unknown as Record<string, unknown>;
  for (const segment of problem.path.slice(entryPath.length + 1).split('.')) {
    const properties = schema?.properties as Record<string, Record<string, unknown>> | undefined;
    if (properties && Object.hasOwn(properties, segment)) schema = properties[segment];
    else if (schema?.type === 'array' && /^\d+$/.test(segment)) schema = schema.items as Record<string, unknown>;
    else return problem;
  }
  const choices = (schema?.anyOf as { const?: unknown }[] | undefined)?.map((s) => s.const);
  if (!choices || choices.some((c) => typeof c !== 'string')) return problem;
  return { path: problem.path, message: `expected one of ${choices.map((c) => JSON.stringify(c)).join(', ')}` };
}
