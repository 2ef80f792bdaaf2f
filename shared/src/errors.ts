/**
 * One error hierarchy for all of Sluice. Every error has a stable `code` (documented in
 * docs/errors.md), says whether retrying can help, and keeps its cause.
 */

export interface SluiceErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  /** Where the problem is, e.g. a config path (`sources.web.listen`) or a peer address. */
  where?: string;
  /** For retriable errors: a hint how long to wait before retrying. */
  retryAfterMs?: number;
}

export class SluiceError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  readonly where?: string;
  readonly retryAfterMs?: number;

  constructor(code: string, message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SluiceError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.where = options.where;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Stable error codes. Add new ones here and to docs/errors.md. */
export const ErrorCodes = {
  CONFIG_INVALID: 'SLUICE_CONFIG_INVALID',
  CHANNEL_FULL: 'SLUICE_CHANNEL_FULL',
  CHANNEL_CLOSED: 'SLUICE_CHANNEL_CLOSED',
  CHANNEL_VERSION: 'SLUICE_CHANNEL_VERSION',
  CHANNEL_COMMIT_FAILED: 'SLUICE_CHANNEL_COMMIT_FAILED',
  CHANNEL_CORRUPT: 'SLUICE_CHANNEL_CORRUPT',
  OFFSET_OUT_OF_RANGE: 'SLUICE_OFFSET_OUT_OF_RANGE',
  TOPIC_INVALID: 'SLUICE_TOPIC_INVALID',
  TOPIC_NOT_FOUND: 'SLUICE_TOPIC_NOT_FOUND',
  CURSOR_NOT_FOUND: 'SLUICE_CURSOR_NOT_FOUND',
  BAD_INPUT: 'SLUICE_BAD_INPUT',
  TOO_LARGE: 'SLUICE_TOO_LARGE',
  UNAUTHORIZED: 'SLUICE_UNAUTHORIZED',
  NOT_FOUND: 'SLUICE_NOT_FOUND',
  DESTINATION_UNAVAILABLE: 'SLUICE_DESTINATION_UNAVAILABLE',
  DESTINATION_REJECTED: 'SLUICE_DESTINATION_REJECTED',
  PROTOCOL: 'SLUICE_PROTOCOL',
  INTERCEPTOR_FAILED: 'SLUICE_INTERCEPTOR_FAILED',
  COMPONENT_REGISTRATION: 'SLUICE_COMPONENT_REGISTRATION',
  SCAN_LIMIT: 'SLUICE_SCAN_LIMIT',
  EXPORT_DISABLED: 'SLUICE_EXPORT_DISABLED',
  INTERNAL: 'SLUICE_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export function isSluiceError(error: unknown): error is SluiceError {
  return error instanceof SluiceError;
}

/** Whether a retry can help: SluiceErrors say so; anything else (a programmer error) never is. */
export function isRetriable(error: unknown): boolean {
  return error instanceof SluiceError && error.retriable;
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
