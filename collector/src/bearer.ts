/** Bearer tokens, compared in constant time: the admin API and the HTTP source check them alike. */
import { timingSafeEqual } from 'node:crypto';

/** A checker for `Authorization: Bearer <token>`; true when the header carries exactly that token. */
export function bearerCheck(token: string): (authorization: string | undefined) => boolean {
  const expected = Buffer.from(`Bearer ${token}`);
  return (authorization) => {
    const given = Buffer.from(authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
}
