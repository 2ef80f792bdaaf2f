/** The one mapping from error code to HTTP status that the admin API and the HTTP source share. */
import { describe, expect, it } from 'vitest';
import { ErrorCodes, httpStatusFor, retryAfterSeconds, SluiceError } from './errors.ts';

describe('httpStatusFor', () => {
  it('maps each code to its status, a retriable error without one to 503, anything else to 500', () => {
    const e = (code: (typeof ErrorCodes)[keyof typeof ErrorCodes], retriable = false) => new SluiceError(code, 'x', { retriable });
    expect(httpStatusFor(e(ErrorCodes.BAD_INPUT))).toBe(400);
    expect(httpStatusFor(e(ErrorCodes.TOPIC_INVALID))).toBe(400);
    expect(httpStatusFor(e(ErrorCodes.OFFSET_OUT_OF_RANGE))).toBe(400);
    expect(httpStatusFor(e(ErrorCodes.UNAUTHORIZED))).toBe(401);
    expect(httpStatusFor(e(ErrorCodes.TOPIC_NOT_FOUND))).toBe(404);
    expect(httpStatusFor(e(ErrorCodes.CHANNEL_CORRUPT))).toBe(410);
    expect(httpStatusFor(e(ErrorCodes.TOO_LARGE))).toBe(413);
    expect(httpStatusFor(e(ErrorCodes.CHANNEL_FULL, true))).toBe(503);
    expect(httpStatusFor(e(ErrorCodes.CHANNEL_COMMIT_FAILED, true))).toBe(503);
    expect(httpStatusFor(e(ErrorCodes.INTERNAL))).toBe(500);
    expect(httpStatusFor(new Error('a bug'))).toBe(500);
  });

  it('a 503 says when to come back: the error\'s hint in whole seconds, at least 1', () => {
    expect(retryAfterSeconds(new SluiceError(ErrorCodes.CHANNEL_FULL, 'full', { retriable: true, retryAfterMs: 2500 }))).toBe(3);
    expect(retryAfterSeconds(new SluiceError(ErrorCodes.CHANNEL_FULL, 'full', { retriable: true }))).toBe(1);
  });
});
