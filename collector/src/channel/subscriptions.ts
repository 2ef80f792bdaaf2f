/**
 * Who hears what the channel did: typed subscriptions (an append's new high watermark, a cursor
 * moved, the disk guard's state, a background failure) and the readers waiting for a topic to
 * grow. Nothing here touches the database; the façade (channel.ts) tells these what happened.
 */
import { EventEmitter } from 'node:events';
import type { DiskState } from './disk.ts';

export type ChannelEventName = 'append' | 'cursor' | 'disk' | 'error';

/** The channel's events. An `error` without a subscriber throws, as EventEmitter's does. */
export class ChannelEvents {
  readonly #emitter = new EventEmitter().setMaxListeners(0);

  /** Subscribes; returns the function that unsubscribes. */
  on<A extends unknown[]>(event: ChannelEventName, listener: (...args: A) => void): () => void {
    const l = listener as (...args: unknown[]) => void;
    this.#emitter.on(event, l);
    return () => this.#emitter.off(event, l);
  }

  count(event: ChannelEventName): number {
    return this.#emitter.listenerCount(event);
  }

  appended(topic: string, high: number): void {
    this.#emitter.emit('append', topic, high);
  }

  cursorMoved(consumer: string, topic: string, next: number): void {
    this.#emitter.emit('cursor', consumer, topic, next);
  }

  disk(state: DiskState): void {
    this.#emitter.emit('disk', state);
  }

  error(error: unknown): void {
    this.#emitter.emit('error', error);
  }
}

/** What a waiter asks the channel: a topic's high watermark, and whether it has closed. */
export interface WaitSource {
  high(topic: string): number | undefined;
  closed(): boolean;
}

/** Readers waiting for a topic to pass an offset (long-poll, live tail, sink runners). */
export class TopicWaiters {
  readonly #waiters = new Map<string, Set<() => void>>();

  constructor(readonly source: WaitSource) {}

  /**
   * Resolves true once `topic` holds an event at `offset` (at once if it does), false on timeout,
   * abort or close.
   */
  wait(topic: string, offset: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const high = this.source.high(topic);
    if (high !== undefined && high > offset) return Promise.resolve(true);
    if (this.source.closed() || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      let set = this.#waiters.get(topic);
      if (!set) this.#waiters.set(topic, (set = new Set()));
      const done = (value: boolean) => {
        clearTimeout(timer);
        set!.delete(wake);
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      };
      const wake = () => {
        const closed = this.source.closed();
        const now = this.source.high(topic);
        if (closed || (now !== undefined && now > offset)) done(!closed);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      set.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** After a commit that appended to `topic`. */
  wake(topic: string): void {
    const set = this.#waiters.get(topic);
    if (set) for (const wake of [...set]) wake();
  }

  /** On close: every waiter resolves false. */
  wakeAll(): void {
    for (const topic of this.#waiters.keys()) this.wake(topic);
  }
}
