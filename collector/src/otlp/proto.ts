/**
 * The OTLP logs wire format (OTLP/HTTP, https://opentelemetry.io/docs/specs/otlp/), decoded and
 * encoded with protobufjs from the official definitions below.
 *
 * OTLP_LOGS_PROTO is opentelemetry-proto v1.x (Apache-2.0, github.com/open-telemetry/opentelemetry-proto):
 * common/v1/common.proto, resource/v1/resource.proto, logs/v1/logs.proto and
 * collector/logs/v1/logs_service.proto, comments and language options stripped, the deprecated
 * InstrumentationLibrary messages left out; google.rpc.Status (the OTLP/HTTP error body) without
 * its `details`. Field numbers and types are the official ones — that is the wire contract.
 * No npm package ships the current .proto files (docs/decisions/otlp.md), so they live here,
 * embedded as text so a bundled build needs no files beside it.
 *
 * JSON bodies follow the OTLP JSON mapping: lowerCamelCase keys, enums as numbers (names
 * accepted), 64-bit integers as decimal strings (numbers accepted), trace and span ids as hex
 * (not base64 as in plain proto3 JSON).
 */
import protobuf from 'protobufjs';

export const OTLP_LOGS_PROTO: readonly string[] = [
  `
syntax = "proto3";
package opentelemetry.proto.common.v1;
message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope {
  string name = 1;
  string version = 2;
  repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4;
}
`,
  `
syntax = "proto3";
package opentelemetry.proto.resource.v1;
message Resource {
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 1;
  uint32 dropped_attributes_count = 2;
}
`,
  `
syntax = "proto3";
package opentelemetry.proto.logs.v1;
message LogsData { repeated ResourceLogs resource_logs = 1; }
message ResourceLogs {
  reserved 1000;
  opentelemetry.proto.resource.v1.Resource resource = 1;
  repeated ScopeLogs scope_logs = 2;
  string schema_url = 3;
}
message ScopeLogs {
  opentelemetry.proto.common.v1.InstrumentationScope scope = 1;
  repeated LogRecord log_records = 2;
  string schema_url = 3;
}
enum SeverityNumber {
  SEVERITY_NUMBER_UNSPECIFIED = 0;
  SEVERITY_NUMBER_TRACE = 1; SEVERITY_NUMBER_TRACE2 = 2; SEVERITY_NUMBER_TRACE3 = 3; SEVERITY_NUMBER_TRACE4 = 4;
  SEVERITY_NUMBER_DEBUG = 5; SEVERITY_NUMBER_DEBUG2 = 6; SEVERITY_NUMBER_DEBUG3 = 7; SEVERITY_NUMBER_DEBUG4 = 8;
  SEVERITY_NUMBER_INFO = 9; SEVERITY_NUMBER_INFO2 = 10; SEVERITY_NUMBER_INFO3 = 11; SEVERITY_NUMBER_INFO4 = 12;
  SEVERITY_NUMBER_WARN = 13; SEVERITY_NUMBER_WARN2 = 14; SEVERITY_NUMBER_WARN3 = 15; SEVERITY_NUMBER_WARN4 = 16;
  SEVERITY_NUMBER_ERROR = 17; SEVERITY_NUMBER_ERROR2 = 18; SEVERITY_NUMBER_ERROR3 = 19; SEVERITY_NUMBER_ERROR4 = 20;
  SEVERITY_NUMBER_FATAL = 21; SEVERITY_NUMBER_FATAL2 = 22; SEVERITY_NUMBER_FATAL3 = 23; SEVERITY_NUMBER_FATAL4 = 24;
}
message LogRecord {
  reserved 4;
  fixed64 time_unix_nano = 1;
  fixed64 observed_time_unix_nano = 11;
  SeverityNumber severity_number = 2;
  string severity_text = 3;
  opentelemetry.proto.common.v1.AnyValue body = 5;
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 6;
  uint32 dropped_attributes_count = 7;
  fixed32 flags = 8;
  bytes trace_id = 9;
  bytes span_id = 10;
  string event_name = 12;
}
`,
  `
syntax = "proto3";
package opentelemetry.proto.collector.logs.v1;
message ExportLogsServiceRequest { repeated opentelemetry.proto.logs.v1.ResourceLogs resource_logs = 1; }
message ExportLogsServiceResponse { ExportLogsPartialSuccess partial_success = 1; }
message ExportLogsPartialSuccess { int64 rejected_log_records = 1; string error_message = 2; }
`,
  `
syntax = "proto3";
package google.rpc;
message Status { int32 code = 1; string message = 2; }
`,
];

// ─── Decoded shapes (protobufjs toObject with longs as strings, bytes as Uint8Array) ─────────

export interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: Uint8Array;
}
export interface KeyValue {
  key: string;
  value?: AnyValue;
}
export interface LogRecord {
  timeUnixNano?: string;
  observedTimeUnixNano?: string;
  severityNumber?: number;
  severityText?: string;
  body?: AnyValue;
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
  flags?: number;
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  eventName?: string;
}
export interface InstrumentationScope {
  name?: string;
  version?: string;
  attributes?: KeyValue[];
}
export interface ScopeLogs {
  scope?: InstrumentationScope;
  logRecords?: LogRecord[];
  schemaUrl?: string;
}
export interface ResourceLogs {
  resource?: { attributes?: KeyValue[] };
  scopeLogs?: ScopeLogs[];
  schemaUrl?: string;
}
export interface ExportLogsServiceRequest {
  resourceLogs?: ResourceLogs[];
}

const root = new protobuf.Root();
for (const file of OTLP_LOGS_PROTO) protobuf.parse(file, root, { keepCase: false });
root.resolveAll();

const RequestType = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest');
const ResponseType = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse');
const StatusType = root.lookupType('google.rpc.Status');

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number };

/** Decodes a protobuf ExportLogsServiceRequest; throws (protobufjs' message) on malformed input. */
export function decodeRequestProto(bytes: Uint8Array): ExportLogsServiceRequest {
  return RequestType.toObject(RequestType.decode(bytes), TO_OBJECT) as ExportLogsServiceRequest;
}

/** Decodes an OTLP/JSON ExportLogsServiceRequest; throws with the offending field on bad input. */
export function decodeRequestJson(text: string): ExportLogsServiceRequest {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('expected a JSON object (ExportLogsServiceRequest)');
  hexIdsToBytes(parsed as Record<string, unknown>);
  const message = RequestType.fromObject(parsed as Record<string, unknown>);
  const problem = RequestType.verify(message);
  if (problem) throw new Error(problem);
  return RequestType.toObject(message, TO_OBJECT) as ExportLogsServiceRequest;
}

/** OTLP JSON carries trace and span ids as hex; protobufjs' fromObject expects base64. */
function hexIdsToBytes(request: Record<string, unknown>): void {
  for (const rl of arrayAt(request, 'resourceLogs', 'resource_logs')) {
    for (const sl of arrayAt(rl, 'scopeLogs', 'scope_logs')) {
      const records = arrayAt(sl, 'logRecords', 'log_records');
      for (let i = 0; i < records.length; i++) {
        const r = records[i];
        for (const [camel, snake] of [['traceId', 'trace_id'], ['spanId', 'span_id']] as const) {
          const v = r[camel] ?? r[snake];
          if (typeof v !== 'string') continue;
          if (v.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(v)) {
            throw new Error(`resourceLogs[].scopeLogs[].logRecords[${i}].${camel}: "${v}" is not hex`);
          }
          delete r[snake];
          r[camel] = Buffer.from(v, 'hex');
        }
      }
    }
  }
}

function arrayAt(obj: unknown, camel: string, snake: string): Record<string, unknown>[] {
  if (typeof obj !== 'object' || obj === null) return [];
  const o = obj as Record<string, unknown>;
  const v = o[camel] ?? o[snake];
  return Array.isArray(v) ? (v.filter((x) => typeof x === 'object' && x !== null) as Record<string, unknown>[]) : [];
}

export function encodeRequestProto(request: ExportLogsServiceRequest): Uint8Array {
  return RequestType.encode(RequestType.fromObject(request as Record<string, unknown>)).finish();
}

export interface PartialSuccess {
  rejectedLogRecords: number;
  errorMessage: string;
}

/** The answer to an export: empty, or partial_success when some records were refused. */
export function encodeResponse(json: boolean, partial: PartialSuccess | null): Uint8Array | string {
  const obj = partial && partial.rejectedLogRecords > 0 ? { partialSuccess: { rejectedLogRecords: partial.rejectedLogRecords, errorMessage: partial.errorMessage } } : {};
  if (json) return JSON.stringify(partial && partial.rejectedLogRecords > 0 ? { partialSuccess: { rejectedLogRecords: String(partial.rejectedLogRecords), errorMessage: partial.errorMessage } } : {});
  return ResponseType.encode(ResponseType.fromObject(obj)).finish();
}

export function decodeResponseProto(bytes: Uint8Array): { partialSuccess?: { rejectedLogRecords?: string; errorMessage?: string } } {
  return ResponseType.toObject(ResponseType.decode(bytes), TO_OBJECT);
}

/** google.rpc.Status, the OTLP/HTTP error body. `code` is a gRPC code (3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 14 UNAVAILABLE). */
export function encodeStatus(json: boolean, code: number, message: string): Uint8Array | string {
  if (json) return JSON.stringify({ code, message });
  return StatusType.encode(StatusType.fromObject({ code, message })).finish();
}

export function decodeStatusProto(bytes: Uint8Array): { code?: number; message?: string } {
  return StatusType.toObject(StatusType.decode(bytes), TO_OBJECT);
}
