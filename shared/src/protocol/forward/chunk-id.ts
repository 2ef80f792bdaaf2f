/**
 * Chunk ids: the spec asks for the base64 of a 128-bit id. Ours is derived, not random, so that a
 * batch re-sent after a lost ack carries the same id and the hub can drop the duplicate:
 *
 *   chunkId = base64(MurmurHash3_x86_128(seed 0, input))
 *   input   = "sluice-chunk/1" 0x00 | u32 len + utf8 edgeId | u32 len + utf8 topic
 *             | u64 firstOffset | u64 lastOffset                  (all big-endian)
 *
 * Length prefixes keep (edge "a", topic "bc") and (edge "ab", topic "c") apart. The hash is not
 * cryptographic: accidental collisions are ~2^-64 per pair, which is fine among cooperating edges.
 * The function must never change without changing the version tag, or retries across an upgrade
 * would carry new ids and be stored twice. `edgeId` must name one channel incarnation: offsets
 * restart at 0 when a channel file is recreated, so an edge id reused across that would collide.
 */
import { ErrorCodes, SluiceError } from '../../errors.ts';
import { utf8 } from '../../event.ts';

const VERSION_TAG = utf8('sluice-chunk/1\u0000');

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** MurmurHash3_x86_128 (Austin Appleby's reference): 16 bytes, h1..h4 each little-endian. */
export function murmur3x86_128(data: Uint8Array, seed = 0): Uint8Array {
  const c1 = 0x239b961b;
  const c2 = 0xab0e9789;
  const c3 = 0x38b34ae5;
  const c4 = 0xa1e38b93;
  let h1 = seed | 0;
  let h2 = seed | 0;
  let h3 = seed | 0;
  let h4 = seed | 0;
  const length = data.length;
  const blocks = length >>> 4;
  const le32 = (p: number) => data[p] | (data[p + 1] << 8) | (data[p + 2] << 16) | (data[p + 3] << 24);
  for (let i = 0; i < blocks; i++) {
    const p = i * 16;
    let k1 = le32(p);
    let k2 = le32(p + 4);
    let k3 = le32(p + 8);
    let k4 = le32(p + 12);
    k1 = Math.imul(rotl(Math.imul(k1, c1), 15), c2);
    h1 ^= k1;
    h1 = (Math.imul(rotl(h1, 19) + h2, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(rotl(Math.imul(k2, c2), 16), c3);
    h2 ^= k2;
    h2 = (Math.imul(rotl(h2, 17) + h3, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(rotl(Math.imul(k3, c3), 17), c4);
    h3 ^= k3;
    h3 = (Math.imul(rotl(h3, 15) + h4, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(rotl(Math.imul(k4, c4), 18), c1);
    h4 ^= k4;
    h4 = (Math.imul(rotl(h4, 13) + h1, 5) + 0x32ac3b17) | 0;
  }
  const tail = blocks * 16;
  const rest = length & 15;
  let k1 = 0;
  let k2 = 0;
  let k3 = 0;
  let k4 = 0;
  for (let i = rest - 1; i >= 0; i--) {
    const byte = data[tail + i] << ((i & 3) * 8);
    if (i >= 12) k4 ^= byte;
    else if (i >= 8) k3 ^= byte;
    else if (i >= 4) k2 ^= byte;
    else k1 ^= byte;
  }
  if (rest > 12) h4 ^= Math.imul(rotl(Math.imul(k4, c4), 18), c1);
  if (rest > 8) h3 ^= Math.imul(rotl(Math.imul(k3, c3), 17), c4);
  if (rest > 4) h2 ^= Math.imul(rotl(Math.imul(k2, c2), 16), c3);
  if (rest > 0) h1 ^= Math.imul(rotl(Math.imul(k1, c1), 15), c2);

  h1 ^= length;
  h2 ^= length;
  h3 ^= length;
  h4 ^= length;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;

  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setUint32(0, h1 >>> 0, true);
  view.setUint32(4, h2 >>> 0, true);
  view.setUint32(8, h3 >>> 0, true);
  view.setUint32(12, h4 >>> 0, true);
  return out;
}

function checkOffset(name: string, offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new SluiceError(ErrorCodes.BAD_INPUT, `chunkId: ${name} must be a non-negative safe integer, got ${offset}`);
  }
}

/** The chunk id of the batch of `topic` offsets `firstOffset..lastOffset` sent by `edgeId`. */
export function chunkId(edgeId: string, topic: string, firstOffset: number, lastOffset: number): string {
  checkOffset('firstOffset', firstOffset);
  checkOffset('lastOffset', lastOffset);
  if (lastOffset < firstOffset) throw new SluiceError(ErrorCodes.BAD_INPUT, `chunkId: lastOffset ${lastOffset} is before firstOffset ${firstOffset}`);
  const edge = utf8(edgeId);
  const name = utf8(topic);
  const input = new Uint8Array(VERSION_TAG.length + 4 + edge.length + 4 + name.length + 16);
  const view = new DataView(input.buffer);
  let p = 0;
  input.set(VERSION_TAG, p);
  p += VERSION_TAG.length;
  view.setUint32(p, edge.length);
  input.set(edge, p + 4);
  p += 4 + edge.length;
  view.setUint32(p, name.length);
  input.set(name, p + 4);
  p += 4 + name.length;
  view.setBigUint64(p, BigInt(firstOffset));
  view.setBigUint64(p + 8, BigInt(lastOffset));
  const digest = murmur3x86_128(input);
  return btoa(String.fromCharCode(...digest));
}
