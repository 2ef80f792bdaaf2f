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
 * - a cursor moved by someone else (replay) while a batch is in flight wins: the runner does not
 *   overwrite it and re-reads from the new position.
 */
import picomatch from 'picomatch';
import type { SinkError, SinkState, SinkStatus, SinkTopicStatus } from '../../../shared/src/api/core.ts';
import type { StoredEvent } from '../../../shared/src/event.ts';
import { errorMessage, isRetriable, isSluiceError, SluiceError } from '../../../shared/src/errors.ts';
import type { Channel } from '../channel/channel.ts';
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
  readonly #backoff: Backoff;
  readonly #stop = new AbortController();
  #state: SinkState = 'starting';
  #lastError: SinkError | null = null;
  #nextAttemptAt: number | null = null;
  #sentEvents = 0;
  #sentBatches = 0;
  #parkedEvents = 0;
  #lastSuccessAt: number | null = null;
  #loop: Promise<void> | null = null;
  #unprotect: (() => void) | null = null;
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
    this.#backoff = new Backoff({ initialMs: options.retry.initialMs, maxMs: options.retry.maxMs });
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
    this.#o.channel.events.on('append', this.#onAppend);
    this.#o.channel.events.on('cursor', this.#onCursor);
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
      this.#o.channel.events.off('append', this.#onAppend);
      this.#o.channel.events.off('cursor', this.#onCursor);
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
    this.#o.channel.events.off('append', this.#onAppend);
    this.#o.channel.events.off('cursor', this.#onCursor);
    this.#unprotect?.();
    this.#state = 'stopped';
    try {
      await this.#o.sink.close();
    } catch (error) {
      this.#o.log.warn({ sink: this.name, err: errorMessage(error) }, 'sink close failed');
    }
  }

  /** The topics this sink reads, with cursor and lag. */
  topicStatus(): SinkTopicStatus[] {
    const channel = this.#o.channel;
    const out: SinkTopicStatus[] = [];
    for (const info of channel.topics()) {
      if (!this.matches(info.name)) continue;
      const cursor = channel.getCursor(this.consumer, info.name) ?? (this.#o.startFrom === 'latest' ? info.high : info.low);
      out.push({ topic: info.name, cursor, high: info.high, low: info.low, lag: Math.max(0, info.high - Math.max(cursor, info.low)) });
    }
    return out;
  }

  status(): SinkStatus {
    const topics = this.topicStatus();
    return {
      name: this.name,
      state: this.#state,
      topics,
      lag: topics.reduce((a, t) => a + t.lag, 0),
      lastError: this.#lastError,
      nextAttemptAt: this.#state === 'backing_off' ? this.#nextAttemptAt : null,
      attempt: this.#backoff.attempt,
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
        if (await this.#drainOne(info.name)) sentSomething = true;
      }
      if (!sentSomething && !signal.aborted) await this.#idle(1000);
    }
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

  /** Sends one batch of `topic` if there is one. Returns whether it sent (or parked) anything. */
  async #drainOne(topic: string): Promise<boolean> {
    const channel = this.#o.channel;
    const { maxEvents, maxBytes, maxWaitMs } = this.#o.batch;
    let cursor = channel.getCursor(this.consumer, topic);
    if (cursor === null) {
      const info = channel.topic(topic)!;
      cursor = this.#o.startFrom === 'latest' ? info.high : info.low;
      channel.commit([{ consumer: this.consumer, topic, next: cursor, protects: true }]);
    }
    let events = channel.read(topic, cursor, { maxEvents, maxBytes });
    if (events.length === 0) return false;
    if (events.length < maxEvents && maxWaitMs > 0) {
      // Batch by time: give producers a moment to fill the batch.
      await channel.waitFor(topic, cursor + maxEvents, maxWaitMs, this.#stop.signal);
      events = channel.read(topic, cursor, { maxEvents, maxBytes });
    }
    const first = events[0].offset;
    if (first > cursor) {
      // drop_oldest removed events this sink had not delivered; the topic's `dropped` counter has them.
      this.#o.log.warn({ sink: this.name, topic, from: cursor, to: first }, 'events were dropped by the channel before delivery (when_full: drop_oldest)');
    }
    const next = events[events.length - 1].offset + 1;
    const delivered = await this.#deliver(topic, events);
    if (delivered === 'aborted') return false;
    // A replay may have moved the cursor while the batch was in flight: it wins.
    if (channel.getCursor(this.consumer, topic) !== cursor) return true;
    await this.#commitCursor(topic, next);
    return true;
  }

  /**
   * Commits a delivered batch's cursor, retrying while the channel refuses for a passing reason
   * (a full disk): a sink that keeps draining is how space comes back. If stopped meanwhile, the
   * batch is sent again after the restart (at-least-once).
   */
  async #commitCursor(topic: string, next: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        this.#o.channel.commit([{ consumer: this.consumer, topic, next, protects: true }]);
        return;
      } catch (error) {
        if (!isRetriable(error)) throw error;
        if (this.#stop.signal.aborted) return;
        const delay = Math.min(this.#o.retry.maxMs, this.#o.retry.initialMs * 2 ** Math.min(attempt, 10));
        this.#o.log.warn({ sink: this.name, topic, attempt }, `sink "${this.name}": cannot commit its cursor on "${topic}" (${errorMessage(error)}); retrying in ${(delay / 1000).toFixed(1)}s`);
        if (!(await sleep(delay, this.#stop.signal))) return;
      }
    }
  }

  /** Sends until confirmed (with backoff), parked, or stopped. */
  async #deliver(topic: string, events: readonly StoredEvent[]): Promise<'sent' | 'parked' | 'aborted'> {
    const signal = this.#stop.signal;
    const metrics = this.#o.metrics;
    for (;;) {
      metrics?.sinkDrainAttempts.inc({ sink: this.name });
      try {
        await this.#o.sink.send(events, topic);
        metrics?.sinkDrainSuccesses.inc({ sink: this.name });
        metrics?.sinkEventsSent.inc({ sink: this.name }, events.length);
        this.#sentEvents += events.length;
        this.#sentBatches++;
        this.#lastSuccessAt = Date.now();
        if (this.#state === 'backing_off') this.#o.log.info({ sink: this.name, attempts: this.#backoff.attempt }, `sink "${this.name}": delivering again`);
        this.#state = 'running';
        this.#nextAttemptAt = null;
        this.#backoff.reset();
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
          await this.#park(topic, events, error);
          return 'parked';
        }
        if (signal.aborted) return 'aborted';
        const hint = isSluiceError(error) ? error.retryAfterMs : undefined;
        const delay = Math.max(this.#backoff.next(), hint ?? 0);
        this.#state = 'backing_off';
        this.#nextAttemptAt = Date.now() + delay;
        this.#o.log.warn(
          { sink: this.name, topic, attempt: this.#backoff.attempt, delayMs: delay },
          `sink "${this.name}": ${this.#lastError.message}; retrying in ${(delay / 1000).toFixed(1)}s (attempt ${this.#backoff.attempt})`,
        );
        if (!(await sleep(delay, signal))) return 'aborted';
      }
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
      { sink: this.name, topic, from: events[0].offset, to: events[events.length - 1].offset, parkedTo: target },
      `sink "${this.name}": destination rejected ${events.length} events of "${topic}" for good (${error.message}); parked them in "${target}"`,
    );
  }

  #fail(error: unknown): void {
    this.#state = 'failed';
    this.#lastError = toSinkError(error);
    this.#o.log.error({ sink: this.name, err: this.#lastError.message }, `sink "${this.name}" failed: ${this.#lastError.message}; fix the destination and resume it (POST /api/v1/sinks/${this.name}/resume)`);
  }
}

function toSinkError(error: unknown): SinkError {
  return {
    message: errorMessage(error),
    code: isSluiceError(error) ? error.code : 'SLUICE_INTERNAL',
    at: Date.now(),
    retriable: isRetriable(error),
  };
}
