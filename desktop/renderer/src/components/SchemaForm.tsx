/**
 * A form generated from a component's JSON Schema (GET /api/v1/components): strings, numbers,
 * booleans, enums (unions of literals), lists of strings and nested objects get their own inputs;
 * anything else (free JSON values, lists of objects, unions of shapes) is edited as JSON. Empty
 * optional fields are left out, so the component's defaults apply.
 */
import { useState, type ReactNode } from 'react';

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  description?: string;
  default?: unknown;
  examples?: unknown[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  pattern?: string;
}

export type ConfigValue = Record<string, unknown>;

type FieldKind =
  | { kind: 'string' }
  | { kind: 'number'; integer: boolean }
  | { kind: 'boolean' }
  | { kind: 'enum'; options: (string | number | boolean)[] }
  | { kind: 'strings' }
  | { kind: 'object'; schema: JsonSchema }
  | { kind: 'json' };

export function asSchema(value: unknown): JsonSchema {
  return value && typeof value === 'object' ? (value as JsonSchema) : {};
}

export function fieldKind(schema: JsonSchema): FieldKind {
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches) {
    const literals = branches.map((b) => (b.const !== undefined ? b.const : b.enum?.length === 1 ? b.enum[0] : undefined));
    if (literals.every((l) => typeof l === 'string' || typeof l === 'number' || typeof l === 'boolean')) {
      return { kind: 'enum', options: literals as (string | number | boolean)[] };
    }
    const nonNull = branches.filter((b) => b.type !== 'null');
    if (nonNull.length === 1) return fieldKind(nonNull[0]);
    // Durations and sizes: an integer or a string like "30s" — one text box takes both.
    if (nonNull.every((b) => b.type === 'string' || b.type === 'integer' || b.type === 'number')) return { kind: 'string' };
    return { kind: 'json' };
  }
  if (schema.enum) return { kind: 'enum', options: schema.enum as (string | number | boolean)[] };
  switch (schema.type) {
    case 'string':
      return { kind: 'string' };
    case 'integer':
      return { kind: 'number', integer: true };
    case 'number':
      return { kind: 'number', integer: false };
    case 'boolean':
      return { kind: 'boolean' };
    case 'array':
      return schema.items?.type === 'string' && !schema.items.anyOf ? { kind: 'strings' } : { kind: 'json' };
    case 'object':
      return schema.properties && Object.keys(schema.properties).length > 0 ? { kind: 'object', schema } : { kind: 'json' };
    default:
      return { kind: 'json' };
  }
}

export function SchemaForm({ schema, value, onChange, idPrefix }: { schema: JsonSchema; value: ConfigValue; onChange: (v: ConfigValue) => void; idPrefix: string }) {
  const props = Object.entries(schema.properties ?? {});
  const required = new Set(schema.required ?? []);
  if (props.length === 0) return <div className="muted small">This interceptor has no settings.</div>;
  return (
    <div className="schema-form">
      {props.map(([name, s]) => (
        <Field
          key={name}
          id={`${idPrefix}-${name}`}
          name={name}
          schema={s}
          required={required.has(name) && s.default === undefined}
          value={value[name]}
          onChange={(v) => {
            const next = { ...value };
            if (v === undefined) delete next[name];
            else next[name] = v;
            onChange(next);
          }}
        />
      ))}
    </div>
  );
}

function Field({ id, name, schema, required, value, onChange }: { id: string; name: string; schema: JsonSchema; required: boolean; value: unknown; onChange: (v: unknown) => void }) {
  const kind = fieldKind(schema);
  const label = (
    <span>
      <span className="mono">{name}</span>
      {required && <span className="error-text"> *</span>}
    </span>
  );
  const help = schema.description ? <span className="field-help">{schema.description}</span> : null;
  const placeholder = schema.default !== undefined ? `default: ${JSON.stringify(schema.default)}` : schema.examples?.[0] !== undefined ? `e.g. ${JSON.stringify(schema.examples[0])}` : '';

  switch (kind.kind) {
    case 'boolean': {
      const checked = typeof value === 'boolean' ? value : schema.default === true;
      return (
        <div>
          <label className="inline" htmlFor={id}>
            <input id={id} name={name} type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} /> {label}
          </label>
          {help}
        </div>
      );
    }
    case 'enum':
      return (
        <label htmlFor={id}>
          {label}
          <select id={id} name={name} value={value === undefined ? '' : JSON.stringify(value)} onChange={(e) => onChange(e.target.value === '' ? undefined : (JSON.parse(e.target.value) as unknown))}>
            {!required || value === undefined ? <option value="">{schema.default !== undefined ? `(default: ${String(schema.default)})` : '(none)'}</option> : null}
            {kind.options.map((o) => <option key={JSON.stringify(o)} value={JSON.stringify(o)}>{String(o)}</option>)}
          </select>
          {help}
        </label>
      );
    case 'number':
      return (
        <label htmlFor={id}>
          {label}
          <input
            id={id}
            name={name}
            type="number"
            step={kind.integer ? 1 : 'any'}
            placeholder={placeholder}
            value={typeof value === 'number' ? value : ''}
            onChange={(e) => onChange(e.target.value === '' ? undefined : Number(e.target.value))}
          />
          {help}
        </label>
      );
    case 'string':
      return (
        <label htmlFor={id}>
          {label}
          <input
            id={id}
            name={name}
            placeholder={placeholder}
            value={value === undefined || value === null ? '' : String(value)}
            onChange={(e) => {
              const raw = e.target.value;
              // Unions of integer and string (durations, sizes): a bare number is a number.
              const numeric = (schema.anyOf ?? []).some((b) => b.type === 'integer') && /^\d+$/.test(raw);
              onChange(raw === '' && !required ? undefined : numeric ? Number(raw) : raw);
            }}
          />
          {help}
        </label>
      );
    case 'strings':
      return (
        <label htmlFor={id}>
          {label} <span className="field-help">one per line</span>
          <textarea
            id={id}
            name={name}
            rows={3}
            placeholder={placeholder}
            value={Array.isArray(value) ? value.join('\n') : ''}
            onChange={(e) => {
              const lines = e.target.value.split('\n');
              onChange(lines.length === 1 && lines[0] === '' ? undefined : lines);
            }}
          />
          {help}
        </label>
      );
    case 'object':
      return (
        <fieldset>
          <legend>{label}</legend>
          {help}
          <SchemaForm schema={kind.schema} idPrefix={id} value={value && typeof value === 'object' ? (value as ConfigValue) : {}} onChange={(v) => onChange(Object.keys(v).length === 0 && !required ? undefined : v)} />
        </fieldset>
      );
    case 'json':
      return <JsonField id={id} name={name} label={label} help={help} value={value} placeholder={placeholder} onChange={onChange} />;
  }
}

function JsonField({ id, name, label, help, value, placeholder, onChange }: { id: string; name: string; label: ReactNode; help: ReactNode; value: unknown; placeholder: string; onChange: (v: unknown) => void }) {
  const [text, setText] = useState(value === undefined ? '' : JSON.stringify(value, null, 2));
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <label htmlFor={id}>
      {label} <span className="field-help">JSON</span>
      <textarea
        id={id}
        name={name}
        rows={Math.min(12, Math.max(3, text.split('\n').length))}
        placeholder={placeholder}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value.trim() === '') {
            setProblem(null);
            onChange(undefined);
            return;
          }
          try {
            onChange(JSON.parse(e.target.value) as unknown);
            setProblem(null);
          } catch (error) {
            setProblem(`Not valid JSON yet: ${error instanceof Error ? error.message : String(error)}`);
          }
        }}
      />
      {problem && <span className="error-text small">{problem}</span>}
      {help}
    </label>
  );
}
