/** Structured logs (pino). Nothing is logged per event: log per batch, per state change, per error. */
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? process.env.SLUICE_LOG_LEVEL ?? 'info';
  return pino({ level, name: options.name ?? 'sluice', base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, options.destination as pino.DestinationStream | undefined);
}

/** A logger that drops everything, for tests and embedded use. */
export const silentLogger: Logger = pino({ level: 'silent' });
