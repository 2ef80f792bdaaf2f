import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';

/** `ms since the epoch` or an ISO 8601 time; BAD_INPUT naming `param` otherwise. */
export function parseTime(value: string, param: string): number {
  const v = value.trim();
  if (/^-?\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new SluiceError(ErrorCodes.BAD_INPUT, `${param}: "${value}" is neither ms since the epoch nor an ISO 8601 time`);
  return t;
}
