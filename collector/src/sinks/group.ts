/**
 * Sink groups: `failover` and `load_balance` (Flume's sink processors). A group is one sink to
 * its SinkRunner — one cursor per topic, one batch at a time — and hands each batch to one of its
 * members; the batch is confirmed when ONE member confirmed it (docs/sinks.md "Groups").
 *
 * - failover: members in priority order (highest first; equal priorities in the order written).
 *   A batch goes to the first member not cooling down; a retriable failure puts that member in
 *   cooldown (jittered exponential, `cooldown` … `max_cooldown`, or the member's Retry-After if
 *   longer) and the same batch goes to the next member. A member back from cooldown is tried
 *   first again (fail-back).
 * - load_balance: each batch starts at the next member in turn (`round_robin`, smooth weighted by
 *   `weight`) or at a random one (`random`, by weight), among the members not in cooldown, and
 *   moves on to the following members on failure.
 *
 * When no member confirmed the batch the group throws: not retriable only if every member
 * rejected the batch for good (the runner parks it); otherwise retriable, listing each member's
 * error, with `retryAfterMs` set to when the first member's cooldown ends.
 *
 * Member configs are `{ type, …that sink's keys }` (+ `priority` in failover, `weight` in
 * load_balance). The config layer
 * validates them through the registry using the spec's `children(config)`.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { errorMessage, ErrorCodes, isRetriable, isSluiceError, SluiceError } from '../../../shared/src/errors.ts';
import type { StoredEvent } from '../../../shared/src/event.ts';
import type { StoredBatch } from '../channel/channel.ts';
import { storedEvents } from '../channel/format.ts';
import type { Sink, SinkContext, SinkSpec } from '../components.ts';
import { Duration, toMs } from '../units.ts';
import { Backoff } from '../retry.ts';

/** A member's config as the config layer should validate it: against `sinks.get(type)`, at `path`. */
export interface GroupMember {
  /** The member's key under `sinks`. */
  name: string;
  /** Path relative to the group's own path, e.g. `sinks.primary` (→ `sinks.out.sinks.primary`). */
  path: string;
  /** `{ type, ...keys }` with the group's own member keys (`priority`) taken out. */
  config: Record<string, unknown>;
}

export interface GroupSinkSpec<S extends TSchema = TSchema> extends SinkSpec<S> {
  /** The members of a (schema-valid) group config, for nested validation and preflight. */
  children(config: Static<S>): GroupMember[];
}

const MEMBER_NAME = '^[A-Za-z0-9_-]+$';

const cooldownKeys = {
  cooldown: Duration('How long a member that failed is skipped at first; doubles (with jitter) on each further failure', '1s'),
  max_cooldown: Duration('Longest a failing member is skipped', '30s'),
};

const FailoverMember = Type.Object(
  {
    type: Type.String({ description: 'The member\'s sink type (http, forward, file, …); its keys go beside `type`' }),
    priority: Type.Optional(Type.Integer({ default: 0, description: 'Higher goes first; equal priorities go in the order written' })),
  },
  { additionalProperties: true, description: 'A member sink: `type`, `priority`, and that sink type\'s keys' },
);

const LoadBalanceMember = Type.Object(
  {
    type: Type.String({ description: 'The member\'s sink type (http, forward, file, …); its keys go beside `type`' }),
    weight: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1, description: 'Share of the batches, relative to the other members' })),
  },
  { additionalProperties: true, description: 'A member sink: `type`, `weight`, and that sink type\'s keys' },
);

const FailoverConfig = Type.Object(
  {
    sinks: Type.Record(Type.String({ pattern: MEMBER_NAME }), FailoverMember, { minProperties: 1, description: 'The members, keyed by name' }),
    ...cooldownKeys,
  },
  { additionalProperties: false },
);

const LoadBalanceConfig = Type.Object(
  {
    sinks: Type.Record(Type.String({ pattern: MEMBER_NAME }), LoadBalanceMember, { minProperties: 1, description: 'The members, keyed by name' }),
    strategy: Type.Union([Type.Literal('round_robin'), Type.Literal('random')], {
      default: 'round_robin',
      description: '`round_robin`: batches go to the members in turn (smooth weighted round robin); `random`: each to a random member, by weight',
    }),
    ...cooldownKeys,
  },
  { additionalProperties: false },
);

export type FailoverConfig = Static<typeof FailoverConfig>;
export type LoadBalanceConfig = Static<typeof LoadBalanceConfig>;

function members(config: { sinks: Record<string, Record<string, unknown>> }, groupKeys: readonly string[]): GroupMember[] {
  return Object.entries(config.sinks).map(([name, member]) => {
    const rest: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(member)) if (!groupKeys.includes(k)) rest[k] = v;
    return { name, path: `sinks.${name}`, config: rest };
  });
}

interface Member {
  name: string;
  type: string;
  priority: number;
  weight: number;
  /** Smooth weighted round robin: the member's running score. */
  score: number;
  sink: Sink;
  backoff: Backoff;
  /** Skipped until then (ms epoch); 0 when healthy. */
  downUntil: number;
  lastError: string | null;
  sentBatches: number;
  failures: number;
}

export interface SinkGroupOptions {
  mode: 'failover' | 'load_balance';
  name: string;
  members: { name: string; type: string; priority: number; weight?: number; sink: Sink }[];
  cooldownMs: number;
  maxCooldownMs: number;
  strategy?: 'round_robin' | 'random';
  now?: () => number;
  random?: () => number;
}

export class SinkGroup implements Sink {
  readonly #o: SinkGroupOptions;
  readonly #members: Member[];
  readonly #now: () => number;
  readonly #random: () => number;
  #active: string | null = null;

  constructor(options: SinkGroupOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    const list = options.members.map((m, i) => ({ ...m, i }));
    // Failover: highest priority first, the order written breaks ties (Array#sort is stable).
    if (options.mode === 'failover') list.sort((a, b) => b.priority - a.priority);
    this.#members = list.map((m) => ({
      name: m.name,
      type: m.type,
      priority: m.priority,
      weight: m.weight ?? 1,
      score: 0,
      sink: m.sink,
      backoff: new Backoff({ initialMs: options.cooldownMs, maxMs: Math.max(options.cooldownMs, options.maxCooldownMs) }),
      downUntil: 0,
      lastError: null,
      sentBatches: 0,
      failures: 0,
    }));
  }

  send(events: readonly StoredEvent[], topic: string): Promise<void> {
    return this.#deliver((sink) => sink.send(events, topic));
  }

  /** Stored batches go to a member that takes them as they are (forward); others get the events. */
  sendStored(batches: readonly StoredBatch[], topic: string): Promise<void> {
    let events: StoredEvent[] | null = null;
    return this.#deliver((sink) => (sink.sendStored ? sink.sendStored(batches, topic) : sink.send((events ??= storedEvents(topic, batches)), topic)));
  }

  async #deliver(send: (sink: Sink) => Promise<void>): Promise<void> {
    const tried: { member: Member; error: unknown }[] = [];
    let skipped = 0;
    for (const index of this.#order()) {
      const member = this.#members[index];
      if (member.downUntil > this.#now()) {
        skipped++;
        continue;
      }
      try {
        await send(member.sink);
      } catch (error) {
        // A programmer error in a member is not a delivery failure: let the runner stop on it.
        if (!isSluiceError(error)) throw error;
        member.failures++;
        member.lastError = errorMessage(error);
        if (isRetriable(error)) member.downUntil = this.#now() + Math.max(member.backoff.next(), error.retryAfterMs ?? 0);
        tried.push({ member, error });
        continue;
      }
      member.sentBatches++;
      member.backoff.reset();
      member.downUntil = 0;
      member.lastError = null;
      this.#active = member.name;
      return;
    }
    throw this.#allFailed(tried, skipped);
  }

  /** Every member hears of a replay: whichever gets the batches again must treat them as new. */
  rewound(topic: string, next: number): void {
    for (const m of this.#members) m.sink.rewound?.(topic, next);
  }

  async close(): Promise<void> {
    const results = await Promise.allSettled(this.#members.map((m) => m.sink.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  describe(): Record<string, unknown> {
    const now = this.#now();
    return {
      mode: this.#o.mode,
      ...(this.#o.mode === 'load_balance' ? { strategy: this.#o.strategy ?? 'round_robin' } : {}),
      active: this.#active,
      members: this.#members.map((m) => ({
        name: m.name,
        type: m.type,
        ...(this.#o.mode === 'failover' ? { priority: m.priority } : { weight: m.weight }),
        healthy: m.downUntil <= now,
        cooldownUntil: m.downUntil > now ? m.downUntil : null,
        lastError: m.lastError,
        sentBatches: m.sentBatches,
        failures: m.failures,
        ...(m.sink.describe ? { detail: m.sink.describe() } : {}),
      })),
    };
  }

  /**
   * Member indexes in the order this batch tries them. load_balance picks the first among the
   * members not cooling down — by smooth weighted round robin (nginx's: every member gains its
   * weight, the highest score goes and pays the total) or weighted at random — then the others
   * in turn after it.
   */
  #order(): number[] {
    const members = this.#members;
    const n = members.length;
    if (this.#o.mode === 'failover') return members.map((_, i) => i);
    const now = this.#now();
    const available = members.map((_, i) => i).filter((i) => members[i].downUntil <= now);
    if (available.length === 0) return members.map((_, i) => i);
    const total = available.reduce((sum, i) => sum + members[i].weight, 0);
    let start = available[0];
    if (this.#o.strategy === 'random') {
      let roll = this.#random() * total;
      for (const i of available) {
        roll -= members[i].weight;
        if (roll < 0) {
          start = i;
          break;
        }
      }
    } else {
      for (const i of available) {
        members[i].score += members[i].weight;
        if (members[i].score > members[start].score) start = i;
      }
      members[start].score -= total;
    }
    return Array.from({ length: n }, (_, k) => (start + k) % n);
  }

  #allFailed(tried: { member: Member; error: unknown }[], skipped: number): SluiceError {
    const now = this.#now();
    const parts = this.#members.map((m) => {
      const attempt = tried.find((t) => t.member === m);
      const why = stripSinkPrefix(attempt ? errorMessage(attempt.error) : (m.lastError ?? 'failed'));
      const cooling = m.downUntil > now ? ` (skipped for ${((m.downUntil - now) / 1000).toFixed(1)}s)` : '';
      return `${m.name}: ${why}${cooling}`;
    });
    // Parked only when every member looked at this batch and refused it for good.
    const rejectedByAll = skipped === 0 && tried.length > 0 && tried.every((t) => !isRetriable(t.error));
    const name = this.#o.name;
    if (rejectedByAll) {
      return new SluiceError(ErrorCodes.DESTINATION_REJECTED, `sink "${name}": every member rejected the batch — ${parts.join('; ')}`, { retriable: false, cause: tried[0]?.error });
    }
    const soonest = Math.min(...this.#members.map((m) => m.downUntil).filter((t) => t > now));
    const retryAfterMs = Number.isFinite(soonest) ? soonest - now : undefined;
    const lead = tried.length === 0 ? 'every member is cooling down' : 'no member took the batch';
    return new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `sink "${name}": ${lead} — ${parts.join('; ')}`, { retriable: true, retryAfterMs, cause: tried[0]?.error });
  }
}

/** `sink "out/a": connection refused …` → `connection refused …` (the group names the member). */
function stripSinkPrefix(message: string): string {
  return message.replace(/^sink "[^"]*": /, '');
}

/** Path of a member in the config, from the group's sink name (`out`, or `out/inner` when nested). */
function memberPath(groupName: string, member: string): string {
  return `sinks.${groupName.split('/').join('.sinks.')}.sinks.${member}`;
}

function build(mode: 'failover' | 'load_balance', config: FailoverConfig | LoadBalanceConfig, ctx: SinkContext, groupKeys: readonly string[]): SinkGroup {
  const list = members(config as { sinks: Record<string, Record<string, unknown>> }, groupKeys).map((m) => {
    const raw = (config.sinks as Record<string, { type: string; priority?: number; weight?: number }>)[m.name];
    return {
      name: m.name,
      type: raw.type,
      priority: raw.priority ?? 0,
      weight: raw.weight ?? 1,
      sink: ctx.createSink(m.config, memberPath(ctx.name, m.name), `${ctx.name}/${m.name}`),
    };
  });
  return new SinkGroup({
    mode,
    name: ctx.name,
    members: list,
    cooldownMs: toMs(config.cooldown),
    maxCooldownMs: toMs(config.max_cooldown),
    strategy: 'strategy' in config ? config.strategy : undefined,
  });
}

export const failoverSink: GroupSinkSpec<typeof FailoverConfig> = {
  kind: 'sink',
  name: 'failover',
  summary: 'Sends each batch to the highest-priority healthy member sink, failing over to the next',
  config: FailoverConfig,
  examples: [
    {
      title: 'A primary hub and a standby',
      config: {
        sinks: {
          primary: { type: 'http', priority: 10, url: 'http://hub-a.example.com:8080/ingest' },
          standby: { type: 'http', priority: 5, url: 'http://hub-b.example.com:8080/ingest' },
        },
        cooldown: '1s',
        max_cooldown: '30s',
      },
    },
  ],
  create: (config, ctx) => build('failover', config, ctx, ['priority']),
  children: (config) => members(config as { sinks: Record<string, Record<string, unknown>> }, ['priority']),
};

export const loadBalanceSink: GroupSinkSpec<typeof LoadBalanceConfig> = {
  kind: 'sink',
  name: 'load_balance',
  summary: 'Spreads batches over member sinks in turn or at random, skipping failing members',
  config: LoadBalanceConfig,
  examples: [
    {
      title: 'Two receivers in turn',
      config: {
        strategy: 'round_robin',
        sinks: {
          a: { type: 'http', url: 'http://10.0.0.5:8080/ingest' },
          b: { type: 'http', url: 'http://10.0.0.6:8080/ingest' },
        },
      },
    },
  ],
  create: (config, ctx) => build('load_balance', config, ctx, ['weight']),
  children: (config) => members(config as { sinks: Record<string, Record<string, unknown>> }, ['weight']),
};
