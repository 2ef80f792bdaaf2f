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
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly where?: string;
  readonly retryAfterMs?: number;

  constructor(code: ErrorCode, message: string, options: SluiceErrorOptions = {}) {
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
  SCHEMA_INVALID: 'SLUICE_SCHEMA_INVALID',
  INTERNAL: 'SLUICE_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * The one mapping from error code to HTTP status, for every HTTP answer Sluice gives (the admin
 * API and the HTTP source). A retriable error without a status of its own is 503: try again.
 */
const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.BAD_INPUT]: 400,
  [ErrorCodes.TOPIC_INVALID]: 400,
  [ErrorCodes.CONFIG_INVALID]: 400,
  [ErrorCodes.OFFSET_OUT_OF_RANGE]: 400,
  [ErrorCodes.SCAN_LIMIT]: 400,
  [ErrorCodes.SCHEMA_INVALID]: 400,
  [ErrorCodes.UNAUTHORIZED]: 401,
  [ErrorCodes.EXPORT_DISABLED]: 403,
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.TOPIC_NOT_FOUND]: 404,
  [ErrorCodes.CURSOR_NOT_FOUND]: 404,
  [ErrorCodes.CHANNEL_CORRUPT]: 410,
  [ErrorCodes.TOO_LARGE]: 413,
  [ErrorCodes.CHANNEL_FULL]: 503,
  [ErrorCodes.CHANNEL_CLOSED]: 503,
};

export function httpStatusFor(error: unknown): number {
  if (!(error instanceof SluiceError)) return 500;
  return HTTP_STATUS[error.code] ?? (error.retriable ? 503 : 500);
}

/** The Retry-After (seconds) a 503 carries: the error's own hint, else 1 s. */
export function retryAfterSeconds(error: unknown): number {
  const ms = error instanceof SluiceError ? error.retryAfterMs : undefined;
  return Math.max(1, Math.ceil((ms ?? 1000) / 1000));
}

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
