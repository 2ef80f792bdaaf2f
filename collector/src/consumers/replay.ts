/**
 * Replay: moving a consumer's cursors (a sink's `sink:<name>`, a consumer group's
 * `group:<name>`) per topic, as `kafka-consumer-groups --reset-offsets` does.
 *
 * - A plan is computed first, always; it is applied only with `execute`, in one transaction
 *   over all topics (Channel.moveCursors), and logged.
 * - A target that points at events retention already deleted is refused, never silently
 *   moved: an offset below the low watermark; a time older than the oldest kept event, on a
 *   topic that lost events to retention; a shift landing below the low watermark of such a
 *   topic. (On a topic that never lost an event, a time or shift before its first event is just
 *   its beginning, and the plan says so.) A shift past the end stops at the end, noted.
 */
import type { ReplayResponse, ReplayTarget, ReplayTopicPlan } from '../../../shared/src/api/replay.ts';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import type { Channel } from '../channel/channel.ts';
import type { Logger } from '../log.ts';
import { parseTime } from './time.ts';

export interface ReplayConsumer {
  /** `sink:<name>` or `group:<name>`. */
  consumer: string;
  /** Sinks protect what they have not delivered from retention; groups do not. */
  protects: boolean;
  /** Where delivery continues on a topic without a cursor (a sink's start_from). */
  startOf(topic: string, low: number, high: number): number;
}

function refuse(message: string): SluiceError {
  return new SluiceError(ErrorCodes.OFFSET_OUT_OF_RANGE, message);
}

/** Validates that exactly one target is given. */
function targetKind(to: ReplayTarget): keyof ReplayTarget {
  const keys = Object.keys(to).filter((k) => (to as Record<string, unknown>)[k] !== undefined) as (keyof ReplayTarget)[];
  if (keys.length !== 1) throw new SluiceError(ErrorCodes.BAD_INPUT, `to: give exactly one of earliest, latest, offset, time, shift (got ${keys.join(', ') || 'none'})`);
  return keys[0];
}

export function planTopic(channel: Channel, c: ReplayConsumer, topic: string, to: ReplayTarget): ReplayTopicPlan {
  const info = channel.topic(topic);
  if (!info) throw new SluiceError(ErrorCodes.TOPIC_NOT_FOUND, `topic "${topic}" does not exist`);
  const { low, high } = info;
  const current = channel.getCursor(c.consumer, topic);
  const from = Math.min(high, Math.max(low, current ?? c.startOf(topic, low, high)));
  let target: number;
  let note: string | undefined;
  const lostEvents = low > 0;
  switch (targetKind(to)) {
    case 'earliest':
      target = low;
      break;
    case 'latest':
      target = high;
      break;
    case 'offset': {
      const offset = to.offset!;
      if (offset > high) throw refuse(`topic "${topic}": offset ${offset} is beyond the end (high watermark ${high})`);
      if (offset < low) throw refuse(`topic "${topic}": offset ${offset} is older than what retention kept (earliest is ${low}); use earliest to replay everything kept`);
      target = offset;
      break;
    }
    case 'time': {
      const t = typeof to.time === 'number' ? to.time : parseTime(to.time!, 'to.time');
      target = channel.offsetForTime(topic, t);
      if (lostEvents && target === low && low < high) {
        const oldest = channel.read(topic, low, { maxEvents: 1 })[0];
        if (oldest && t < oldest.ts) {
          throw refuse(
            `topic "${topic}": ${new Date(t).toISOString()} is older than what retention kept (the oldest kept event, offset ${low}, is from ${new Date(oldest.ts).toISOString()}); use earliest to replay everything kept`,
          );
        }
      }
      if (target === high && low < high) note = `no event at or after ${new Date(t).toISOString()}: the cursor moves to the end`;
      break;
    }
    case 'shift': {
      const shift = to.shift!;
      const wanted = from + shift;
      if (wanted < low) {
        if (lostEvents) {
          throw refuse(
            `topic "${topic}": shifting ${shift} from ${from} lands at ${wanted}, older than what retention kept (earliest is ${low}); at most ${from - low} events can be replayed`,
          );
        }
        note = `shift ${shift} from ${from} stops at the topic's first event (offset ${low})`;
        target = low;
      } else if (wanted > high) {
        note = `shift ${shift} from ${from} stops at the end (offset ${high})`;
        target = high;
      } else {
        target = wanted;
      }
      break;
    }
  }
  return {
    topic,
    current,
    from,
    target,
    low,
    high,
    redeliver: target < from ? from - target : 0,
    skip: target > from ? target - from : 0,
    ...(note === undefined ? {} : { note }),
  };
}

/** Plans, and with `execute` applies atomically, a replay over `topics`. */
export function replay(channel: Channel, log: Logger, c: ReplayConsumer, topics: readonly string[], to: ReplayTarget, execute: boolean): ReplayResponse {
  targetKind(to);
  let plans = topics.map((t) => planTopic(channel, c, t, to));
  const at = Date.now();
  if (execute) {
    // One transaction for every topic. Offsets are re-checked inside it (retention may have run since the plan).
    const applied = channel.moveCursors(
      plans.map((p) => ({ consumer: c.consumer, topic: p.topic, spec: { offset: p.target }, protects: c.protects })),
      false,
    );
    plans = plans.map((p, i) => ({ ...p, target: applied[i].target }));
    log.info(
      { consumer: c.consumer, to, topics: plans.map((p) => ({ topic: p.topic, from: p.from, target: p.target, redeliver: p.redeliver, skip: p.skip })) },
      `replay applied to ${c.consumer}: ${plans.map((p) => `${p.topic} ${p.from}→${p.target}`).join(', ')}`,
    );
  }
  return {
    consumer: c.consumer,
    executed: execute,
    to,
    topics: plans,
    redeliver: plans.reduce((a, p) => a + p.redeliver, 0),
    skip: plans.reduce((a, p) => a + p.skip, 0),
    at,
  };
}
