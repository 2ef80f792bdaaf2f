/**
 * The SinkRunner (DESIGN §4) runs one sink: it owns the sink's cursor per topic, takes batches
 * from the channel, hands them to the sink, and commits the cursor only after the sink resolved
 * (the destination confirmed). Transient failures are retried with jittered exponential backoff
 * (state `backing_off`); a batch the destination rejects for good is parked in `_parked.<sink>`
 * and reported, or stops the sink (`failed`) when `on_rejected: stop`.
 *
 * Invariants:
 * - a cursor never moves before the destination confirmed every event below it;
 * - per topic, events are sent in offset order; a retry resends the same batch;
 * - topics are independent: each has its own backoff, and one topic backing off never stalls
 *   the others (a pass over the topics sends at most one batch of each topic that is due);
 * - the sink is called with one batch at a time;
 * - a cursor moved by someone else (replay) while a batch is in flight wins: the runner does not
 *   overwrite it, tells the sink (`rewound(topic, next)`) and re-reads from the new position.
 */
import picomatch from 'picomatch';
import type { SinkError, SinkState, SinkStatus, SinkTopicStatus } from '../../../shared/src/api/core.ts';
import type { StoredEvent } from '../../../shared/src/event.ts';
import { ErrorCodes, errorMessage, isRetriable, isSluiceError, SluiceError } from '../../../shared/src/errors.ts';
import type { Channel, StoredBatch } from '../channel/channel.ts';
import { decodeBatch } from '../channel/format.ts';
import type { Sink } from '../components.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { Backoff, sleep } from '../retry.ts';

export interface SinkRunnerOptions {
  name: string;
  sink: Sink;
  channel: Channel;
  log: Logger;
  metrics?: Metrics;
  /** Topic names or globs. `*` does not match internal topics (those starting with `_`). */
  topics: readonly string[];
  batch: { maxEvents: number; maxBytes: number; maxWaitMs: number };
  retry: { initialMs: number; maxMs: number };
  /** Where a cursor starts on a topic the sink has not read before. */
  startFrom: 'earliest' | 'latest';
  onRejected: 'park' | 'stop';
}

/** The status shapes are the admin API's (shared/src/api/core.ts): one definition for both sides. */
export type { SinkError, SinkState, SinkStatus, SinkTopicStatus };

/** Per topic: its backoff, where this runner last left its cursor, and its delivery rate. */
interface TopicRun {
  backoff: Backoff;
  /** Set while the topic's last attempt failed and its retry is pending. */
  nextAttemptAt: number | null;
  /** The cursor as this runner last read or committed it; another value means someone else moved it. */
  known: number | null;
  rate: RateWindow;
}

/** Events per second over the last `seconds`, in one-second buckets. */
export class RateWindow {
  readonly #buckets: number[];
  readonly #started = Date.now();
  #second = Math.floor(Date.now() / 1000);

  constructor(readonly seconds = 10) {
    this.#buckets = new Array<number>(seconds).fill(0);
  }

  add(n: number, now = Date.now()): void {
    this.#advance(now);
    this.#buckets[this.#second % this.seconds] += n;
  }

  perSecond(now = Date.now()): number {
    this.#advance(now);
    const span = Math.min(this.seconds, Math.max(1, (now - this.#started) / 1000));
    return this.#buckets.reduce((a, b) => a + b, 0) / span;
  }

  #advance(now: number): void {
    const second = Math.floor(now / 1000);
    for (let s = Math.max(this.#second + 1, second - this.seconds + 1); s <= second; s++) this.#buckets[s % this.seconds] = 0;
    this.#second = Math.max(this.#second, second);
  }
}

export function cursorConsumer(sinkName: string): string {
  return `sink:${sinkName}`;
}

export function parkedTopic(sinkName: string): string {
  return `_parked.${sinkName}`;
}

export class SinkRunner {
  readonly name: string;
  readonly consumer: string;
  readonly #o: SinkRunnerOptions;
  readonly #matchers: ((topic: string) => boolean)[];
  readonly #topics = new Map<string, TopicRun>();
  readonly #stop = new AbortController();
  #state: SinkState = 'starting';
  #lastError: SinkError | null = null;
  #sentEvents = 0;
  #sentBatches = 0;
  #parkedEvents = 0;
  #lastSuccessAt: number | null = null;
  #loop: Promise<void> | null = null;
  #unprotect: (() => void) | null = null;
  #unsubscribe: (() => void)[] = [];
  #wake: (() => void) | null = null;
  /** Set when something arrived since the current pass over the topics started. */
  #dirty = false;
  #onAppend = (topic: string) => {
    if (this.matches(topic)) this.#poke();
  };
  #onCursor = (consumer: string) => {
    if (consumer === this.consumer) this.#poke();
  };

  constructor(options: SinkRunnerOptions) {
    this.#o = options;
    this.name = options.name;
    this.consumer = cursorConsumer(options.name);
    this.#matchers = options.topics.map((pattern) => {
      const match = picomatch(pattern, { dot: true });
      const literal = !/[*?[\]{}!]/.test(pattern);
      return (topic: string) => (literal ? topic === pattern : !topic.startsWith('_') && match(topic));
    });
  }

  #topic(topic: string): TopicRun {
    let run = this.#topics.get(topic);
    if (!run) {
      run = { backoff: new Backoff({ initialMs: this.#o.retry.initialMs, maxMs: this.#o.retry.maxMs }), nextAttemptAt: null, known: null, rate: new RateWindow() };
      this.#topics.set(topic, run);
    }
    return run;
  }

  matches(topic: string): boolean {
    return this.#matchers.some((m) => m(topic));
  }

  get state(): SinkState {
    return this.#state;
  }

  start(): void {
    if (this.#loop) return;
    this.#unprotect = this.#o.channel.protect(this.consumer, this.#o.topics);
    this.#unsubscribe = [this.#o.channel.onAppend(this.#onAppend), this.#o.channel.onCursorMoved(this.#onCursor)];
    this.#state = 'running';
    this.#loop = this.#run().catch((error) => {
      this.#fail(error);
    });
  }

  /** Restarts a `failed` sink (e.g. after the operator fixed the destination or replayed past the batch). */
  resume(): void {
    if (this.#state === 'failed') {
      this.#loop = null;
      this.#state = 'starting';
      for (const off of this.#unsubscribe.splice(0)) off();
      this.#unprotect?.();
      this.start();
    }
  }

  /** Stops after the batch in flight (if any) is confirmed or `timeoutMs` passed; then closes the sink. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.#stop.abort();
    this.#wake?.();
    if (this.#loop) {
      await Promise.race([this.#loop, sleep(timeoutMs)]);
    }
    for (const off of this.#unsubscribe.splice(0)) off();
    this.#unprotect?.();
    this.#state = 'stopped';
    try {
      await this.#o.sink.close();
    } catch (error) {
      this.#o.log.warn({ err: errorMessage(error) }, `sink "${this.name}": close failed: ${this.#reason(error)}`);
    }
  }

  /** The topics this sink reads, with cursor, lag (events and seconds), delivery rate and state. */
  topicStatus(): SinkTopicStatus[] {
    const channel = this.#o.channel;
    const out: SinkTopicStatus[] = [];
    const now = Date.now();
    for (const info of channel.topics()) {
      if (!this.matches(info.name)) continue;
      const cursor = channel.getCursor(this.consumer, info.name) ?? (this.#o.startFrom === 'latest' ? info.high : info.low);
      const lag = Math.max(0, info.high - Math.max(cursor, info.low));
      const oldest = lag > 0 ? channel.oldestTs(info.name, Math.max(cursor, info.low)) : null;
      const run = this.#topics.get(info.name);
      out.push({
        topic: info.name,
        cursor,
        high: info.high,
        low: info.low,
        lag,
        lagSeconds: oldest === null ? 0 : Math.max(0, (now - oldest) / 1000),
        rate: run ? run.rate.perSecond(now) : 0,
        state: run?.nextAttemptAt != null ? 'backing_off' : 'running',
        nextAttemptAt: run?.nextAttemptAt ?? null,
      });
    }
    return out;
  }

  status(): SinkStatus {
    const topics = this.topicStatus();
    const runs = [...this.#topics.values()];
    return {
      name: this.name,
      state: this.#state,
      topics,
      lag: topics.reduce((a, t) => a + t.lag, 0),
      lagSeconds: topics.reduce((a, t) => Math.max(a, t.lagSeconds), 0),
      rate: topics.reduce((a, t) => a + t.rate, 0),
      lastError: this.#lastError,
      nextAttemptAt: this.#state === 'backing_off' ? this.#earliestRetry() : null,
      attempt: runs.reduce((a, r) => Math.max(a, r.backoff.attempt), 0),
      sentEvents: this.#sentEvents,
      sentBatches: this.#sentBatches,
      parkedEvents: this.#parkedEvents,
      lastSuccessAt: this.#lastSuccessAt,
      detail: this.#o.sink.describe?.(),
    };
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted && this.#state !== 'failed') {
      this.#dirty = false;
      let sentSomething = false;
      for (const info of this.#o.channel.topics()) {
        if (signal.aborted || this.state === 'failed') return;
        if (!this.matches(info.name)) continue;
        const run = this.#topic(info.name);
        if (run.nextAttemptAt !== null && run.nextAttemptAt > Date.now()) continue; // backing off: the others go on
        if (await this.#drainOne(info.name, run)) sentSomething = true;
      }
      if (!sentSomething && !signal.aborted) {
        const retry = this.#earliestRetry();
        await this.#idle(retry === null ? 1000 : Math.min(1000, Math.max(0, retry - Date.now())));
      }
    }
  }

  /** The topic has nothing pending a retry any more; the sink runs again once no topic has. */
  #recovered(topic: string, run: TopicRun): void {
    const attempts = run.backoff.attempt;
    run.nextAttemptAt = null;
    run.backoff.reset();
    if (this.#state === 'backing_off' && this.#earliestRetry() === null) {
      this.#o.log.info({ topic, attempts }, `sink "${this.name}": delivering again`);
      this.#state = 'running';
    }
  }

  #earliestRetry(): number | null {
    let earliest: number | null = null;
    for (const run of this.#topics.values()) if (run.nextAttemptAt !== null && (earliest === null || run.nextAttemptAt < earliest)) earliest = run.nextAttemptAt;
    return earliest;
  }

  /** Waits for an append on one of our topics, a cursor move, stop, or the timeout. */
  #poke(): void {
    this.#dirty = true;
    this.#wake?.();
  }

  #idle(timeoutMs: number): Promise<void> {
    if (this.#dirty) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#wake = done;
    });
  }

  /** Sends one batch of `topic` if there is one (one attempt). Returns whether it sent (or parked) anything. */
  async #drainOne(topic: string, run: TopicRun): Promise<boolean> {
    const channel = this.#o.channel;
    const { maxEvents, maxWaitMs } = this.#o.batch;
    let cursor = channel.getCursor(this.consumer, topic);
    if (cursor === null) {
      const info = channel.topic(topic)!;
      cursor = this.#o.startFrom === 'latest' ? info.high : info.low;
      if (!(await this.#commitCursor(topic, cursor))) return false;
    } else if (run.known !== null && cursor !== run.known) {
      // Someone else (a replay, a reset) moved the cursor: the sink hears it before we read from there.
      this.#o.sink.rewound?.(topic, cursor);
    }
    run.known = cursor;
    let batch = this.#read(topic, cursor);
    if (batch.count === 0) {
      // Nothing left to send (retention or a replay past the end took it): nothing to back off from.
      if (run.nextAttemptAt !== null) this.#recovered(topic, run);
      return false;
    }
    if (batch.count < maxEvents && maxWaitMs > 0) {
      // Batch by time: give producers a moment to fill the batch.
      await channel.waitFor(topic, cursor + maxEvents, maxWaitMs, this.#stop.signal);
      batch = this.#read(topic, cursor);
    }
    const first = batch.first;
    if (first > cursor) {
      // drop_oldest removed events this sink had not delivered; the topic's `dropped` counter has them.
      this.#o.log.warn({ topic, from: cursor, to: first }, 'events were dropped by the channel before delivery (when_full: drop_oldest)');
    }
    const next = batch.last + 1;
    const delivered = await this.#deliver(topic, batch, run);
    if (delivered === 'aborted' || delivered === 'retry') return false;
    // A replay may have moved the cursor while the batch was in flight: it wins.
    if (channel.getCursor(this.consumer, topic) !== cursor) return true;
    if (!(await this.#commitCursor(topic, next))) return false;
    run.known = next;
    return true;
  }

  /**
   * The next batch of `topic` from `cursor`: events, or — for a sink that takes them — the stored
   * record batches undecoded (decoded only if the batch must be parked).
   */
  #read(topic: string, cursor: number): RunnerBatch {
    const { maxEvents, maxBytes } = this.#o.batch;
    if (this.#o.sink.sendStored) {
      const stored = this.#o.channel.readStored(topic, cursor, { maxEvents, maxBytes });
      if (stored.length === 0) return { count: 0, first: cursor, last: cursor - 1, stored, events: null };
      let count = 0;
      for (const b of stored) count += b.last - b.first + 1;
      return { count, first: stored[0].first, last: stored[stored.length - 1].last, stored, events: null };
    }
    const events = this.#o.channel.read(topic, cursor, { maxEvents, maxBytes });
    if (events.length === 0) return { count: 0, first: cursor, last: cursor - 1, stored: null, events };
    return { count: events.length, first: events[0].offset, last: events[events.length - 1].offset, stored: null, events };
  }

  /**
   * Commits a delivered batch's cursor, retrying while the channel refuses for a passing reason
   * (a full disk): a sink that keeps draining is how space comes back. False if stopped meanwhile:
   * the batch is sent again after the restart (at-least-once).
   */
  #commitCursor(topic: string, next: number): Promise<boolean> {
    return this.#whileRetriable(topic, `commit its cursor on "${topic}"`, () => this.#o.channel.commit([{ consumer: this.consumer, topic, next, protects: true }]));
  }

  /** Runs `write`, a channel write of the runner's own, retrying retriable refusals until it succeeds; false if stopped first. */
  async #whileRetriable(topic: string, what: string, write: () => unknown): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await write();
        return true;
      } catch (error) {
        if (!isRetriable(error)) throw error;
        if (this.#stop.signal.aborted) return false;
        const delay = Math.min(this.#o.retry.maxMs, this.#o.retry.initialMs * 2 ** Math.min(attempt, 10));
        this.#o.log.warn({ topic, attempt }, `sink "${this.name}": cannot ${what} (${this.#reason(error)}); retrying in ${(delay / 1000).toFixed(1)}s`);
        if (!(await sleep(delay, this.#stop.signal))) return false;
      }
    }
  }

  /** One attempt: confirmed, parked, stopped, or failed for now (the topic backs off; the others go on). */
  async #deliver(topic: string, batch: RunnerBatch, run: TopicRun): Promise<'sent' | 'parked' | 'aborted' | 'retry'> {
    const metrics = this.#o.metrics;
    metrics?.sinkDrainAttempts.inc({ sink: this.name });
    try {
      if (batch.stored) await this.#o.sink.sendStored!(batch.stored, topic);
      else await this.#o.sink.send(batch.events!, topic);
      metrics?.sinkDrainSuccesses.inc({ sink: this.name });
      metrics?.sinkEventsSent.inc({ sink: this.name }, batch.count);
      this.#sentEvents += batch.count;
      this.#sentBatches++;
      this.#lastSuccessAt = Date.now();
      run.rate.add(batch.count, this.#lastSuccessAt);
      this.#recovered(topic, run);
      return 'sent';
    } catch (error) {
      metrics?.sinkErrors.inc({ sink: this.name });
      this.#lastError = toSinkError(error);
      if (!isRetriable(error)) {
        if (!isSluiceError(error)) {
          // A programmer error in the sink: never retried blindly, never parked silently.
          this.#fail(error);
          return 'aborted';
        }
        if (this.#o.onRejected === 'stop') {
          this.#fail(error);
          return 'aborted';
        }
        // A full channel (disk) refuses the parked copy for a while: wait, as for a cursor commit.
        const events = batch.events ?? storedEvents(topic, batch.stored!);
        if (!(await this.#whileRetriable(topic, `park a rejected batch of "${topic}"`, () => this.#park(topic, events, error)))) return 'aborted';
        return 'parked';
      }
      if (this.#stop.signal.aborted) return 'aborted';
      const hint = isSluiceError(error) ? error.retryAfterMs : undefined;
      const delay = Math.max(run.backoff.next(), hint ?? 0);
      this.#state = 'backing_off';
      run.nextAttemptAt = Date.now() + delay;
      this.#o.log.warn(
        { topic, attempt: run.backoff.attempt, delayMs: delay },
        `sink "${this.name}": ${this.#reason(this.#lastError.message)}; retrying "${topic}" in ${(delay / 1000).toFixed(1)}s (attempt ${run.backoff.attempt})`,
      );
      return 'retry';
    }
  }

  async #park(topic: string, events: readonly StoredEvent[], error: SluiceError): Promise<void> {
    const target = parkedTopic(this.name);
    const at = String(Date.now());
    await this.#o.channel.append({
      events: events.map((e) => ({
        topic: target,
        ts: e.ts,
        key: e.key,
        body: e.body,
        headers: { ...e.headers, 'sluice.parked.topic': topic, 'sluice.parked.offset': String(e.offset), 'sluice.parked.error': error.message, 'sluice.parked.at': at },
      })),
    });
    this.#parkedEvents += events.length;
    this.#o.metrics?.sinkEventsParked.inc({ sink: this.name }, events.length);
    this.#o.log.error(
      { topic, from: events[0].offset, to: events[events.length - 1].offset, parkedTo: target },
      `sink "${this.name}": destination rejected ${events.length} events of "${topic}" for good (${this.#reason(error)}); parked them in "${target}"`,
    );
  }

  #fail(error: unknown): void {
    this.#state = 'failed';
    this.#lastError = toSinkError(error);
    // Damaged channel data is not the destination's fault: its message already says what to do.
    const todo = this.#lastError.code === ErrorCodes.CHANNEL_CORRUPT ? 'resume it once its cursor is past the damage' : 'fix the destination and resume it';
    this.#o.log.error({ err: this.#lastError.message }, `sink "${this.name}" failed: ${this.#reason(this.#lastError.message)}; ${todo} (POST /api/v1/sinks/${this.name}/resume)`);
  }

  /**
   * An error's message without the `sink "<name>": ` its sink already put in front: the runner's
   * log lines name the sink once (and the logger's `sink` field once).
   */
  #reason(error: unknown): string {
    const message = typeof error === 'string' ? error : errorMessage(error);
    const prefix = `sink "${this.name}": `;
    return message.startsWith(prefix) ? message.slice(prefix.length) : message;
  }
}

/** One runner batch: `count` events from offset `first` to `last`, as events or as stored batches. */
interface RunnerBatch {
  count: number;
  first: number;
  last: number;
  stored: readonly StoredBatch[] | null;
  events: readonly StoredEvent[] | null;
}

/** The events of stored batches, within each batch's first … last. */
function storedEvents(topic: string, stored: readonly StoredBatch[]): StoredEvent[] {
  const out: StoredEvent[] = [];
  for (const b of stored) {
    const events = decodeBatch(topic, b.baseOffset, b.format, b.payload);
    for (let i = b.first - b.baseOffset; i <= b.last - b.baseOffset; i++) out.push(events[i]);
  }
  return out;
}

function toSinkError(error: unknown): SinkError {
  return {
    message: errorMessage(error),
    code: isSluiceError(error) ? error.code : 'SLUICE_INTERNAL',
    at: Date.now(),
    retriable: isRetriable(error),
  };
}
