/**
 * Fluent Forward protocol v1 codec — pure: no I/O and no `node:*` (gzip, gunzip and SHA-512 are
 * injected). Wire format, reserved record keys and chunk ids: docs/protocols/forward.md.
 *
 *   server side: createRequestDecoder({ gunzip }) → push(chunk) → EventFrame | PingFrame | heartbeat
 *                encodeHelo / checkPing / createPong / encodePong / encodeAck
 *   client side: encodePackedForward(tag, entries, { chunk, gzip }) → createResponseDecoder() → AckFrame
 *                HELO → createPing / encodePing → PONG → checkPong
 *   events:      eventToEntry / eventToRecord  ↔  recordToEvent; chunkId(edge, topic, first, last)
 */
export * from './types.ts';
export { ForwardDecoder, createRequestDecoder, createResponseDecoder, decodeRequests, decodeResponses } from './decoder.ts';
export {
  encodeAck,
  encodeEntryStream,
  encodeForwardMode,
  encodeHeartbeat,
  encodeHelo,
  encodeMessageMode,
  encodePackedForward,
  encodePing,
  encodePong,
  type PackedForwardOptions,
  type SimpleOption,
} from './encode.ts';
export { MAX_EVENT_TIME_MS, decodeEventTime, encodeEventTime, eventTimeToMs } from './time.ts';
export {
  checkPing,
  checkPong,
  createPing,
  createPong,
  createSalt,
  digestsEqual,
  passwordDigest,
  sharedKeyDigest,
  type ClientCredentials,
  type HandshakeResult,
  type ServerSecret,
} from './handshake.ts';
export { MESSAGE_FIELD, RESERVED_KEYS, eventToEntry, eventToRecord, recordToEvent, type EventToRecordOptions } from './record.ts';
export { chunkId, murmur3x86_128 } from './chunk-id.ts';
