/**
 * Prometheus metrics, named as Flume operators know them (received / accepted / rejected per
 * source; channel size and fill; drain attempts / successes and lag per sink). Gauges are
 * computed when scraped, so nobody pays for them unless someone watches.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly sourceReceived: Counter<'source'>;
  readonly sourceAccepted: Counter<'source'>;
  readonly sourceRejected: Counter<'source'>;
  readonly sourceDropped: Counter<'source'>;
  readonly sinkDrainAttempts: Counter<'sink'>;
  readonly sinkDrainSuccesses: Counter<'sink'>;
  readonly sinkEventsSent: Counter<'sink'>;
  readonly sinkEventsParked: Counter<'sink'>;
  readonly sinkErrors: Counter<'sink'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const r = [this.registry];
    this.sourceReceived = new Counter({ name: 'sluice_source_events_received_total', help: 'Events received by a source, before interceptors', labelNames: ['source'], registers: r });
    this.sourceAccepted = new Counter({ name: 'sluice_source_events_accepted_total', help: 'Events a source committed to the channel', labelNames: ['source'], registers: r });
    this.sourceRejected = new Counter({ name: 'sluice_source_events_rejected_total', help: 'Events a source could not commit (channel full, commit failed); the producer was told', labelNames: ['source'], registers: r });
    this.sourceDropped = new Counter({ name: 'sluice_source_events_dropped_total', help: 'Events dropped by a source\'s interceptor chain', labelNames: ['source'], registers: r });
    this.sinkDrainAttempts = new Counter({ name: 'sluice_sink_batch_attempts_total', help: 'Batches a sink tried to deliver', labelNames: ['sink'], registers: r });
    this.sinkDrainSuccesses = new Counter({ name: 'sluice_sink_batch_successes_total', help: 'Batches the destination confirmed', labelNames: ['sink'], registers: r });
    this.sinkEventsSent = new Counter({ name: 'sluice_sink_events_sent_total', help: 'Events the destination confirmed', labelNames: ['sink'], registers: r });
    this.sinkEventsParked = new Counter({ name: 'sluice_sink_events_parked_total', help: 'Events the destination rejected for good, moved to _parked.<sink>', labelNames: ['sink'], registers: r });
    this.sinkErrors = new Counter({ name: 'sluice_sink_errors_total', help: 'Failed delivery attempts', labelNames: ['sink'], registers: r });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'sluice_' });
  }

  /** A counter whose value is read on scrape from a total kept elsewhere (e.g. the channel's stats). */
  counter<L extends string>(name: string, help: string, labelNames: L[], collect: (set: (labels: Record<L, string>, value: number) => void) => void): Counter<L> {
    return new Counter<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        collect((labels, value) => this.inc(labels, value));
      },
    });
  }

  /** A gauge whose value is computed on scrape. */
  gauge<L extends string>(name: string, help: string, labelNames: L[], collect: (set: (labels: Record<L, string>, value: number) => void) => void): Gauge<L> {
    return new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        collect((labels, value) => this.set(labels, value));
      },
    });
  }
}
