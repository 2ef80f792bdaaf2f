/**
 * Writes a source's interceptor chain back into the operator's YAML file, changing only what
 * changed and in the file's own style.
 *
 * The file is edited as text, not re-serialised: every byte outside the steps that changed stays
 * as it was (comments, quoting, flow or block style, spacing of other lists). Within the chain:
 * - an unchanged step keeps its text;
 * - a changed step is rewritten in its own style (a flow map `{ type: host }` stays a flow map on
 *   its line, a block map keeps its indentation), its keys in their old order, new keys after;
 * - a removed step loses its lines; an added step is written in the style of the step before it;
 * - a setting equal to its default is written only if the file had it, so applying a chain from
 *   a form that fills every default does not spread defaults through the file.
 * Where the chain has no list in the file yet (or it is an inline `[ … ]` list, or becomes empty),
 * the chain key alone is set through the YAML library, which keeps comments elsewhere.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, parseDocument, stringify, type Node, type Scalar, type YAMLMap } from 'yaml';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import type { InterceptorConfig } from '../interceptors/types.ts';

/** The defaults of an interceptor type's settings (`{}` for an unknown type). */
export type DefaultsOf = (type: string) => Record<string, unknown>;

interface Edit {
  start: number;
  end: number;
  text: string;
}

export function writeChainToYaml(file: string, sourceName: string, chain: readonly InterceptorConfig[], defaultsOf: DefaultsOf): void {
  const before = readFileSync(file, 'utf8');
  const after = chainYaml(before, sourceName, chain, defaultsOf, file);
  if (after === before) return;
  const tmp = `${file}.sluice-tmp`;
  writeFileSync(tmp, after);
  renameSync(tmp, file);
}

/** The file's text with `sources.<name>.interceptors` set to `chain` (see the file comment). */
export function chainYaml(text: string, sourceName: string, chain: readonly InterceptorConfig[], defaultsOf: DefaultsOf, file = 'config'): string {
  const doc = parseDocument(text);
  if (!doc.hasIn(['sources', sourceName])) {
    throw new SluiceError(ErrorCodes.NOT_FOUND, `${file}: no sources.${sourceName} to write the chain into`);
  }
  const seq = doc.getIn(['sources', sourceName, 'interceptors'], true) as Node | undefined;
  const items = isSeq(seq) && !seq.flow ? seq.items : null;
  const old = items?.map((item) => (isMap(item) ? (item.toJSON() as Record<string, unknown>) : null));
  if (!items || !old || old.some((o) => o === null) || chain.length === 0) {
    // No block list to edit in place: set the key through the library.
    if (chain.length === 0) doc.deleteIn(['sources', sourceName, 'interceptors']);
    else doc.setIn(['sources', sourceName, 'interceptors'], doc.createNode(chain.map((step) => minimal(step, {}, defaultsOf))));
    return doc.toString();
  }

  const edits: Edit[] = [];
  const n = Math.min(items.length, chain.length);
  for (let i = 0; i < n; i++) {
    const node = items[i] as YAMLMap;
    const was = old[i]!;
    const want = minimal(chain[i], was, defaultsOf);
    if (sameJson(was, want)) continue;
    if (node.flow) edits.push({ start: node.range![0], end: node.range![1], text: renderStep(want, was, true, text, node.range![0]) });
    else if (was.type !== want.type) edits.push(rewriteBlockStep(node, want, text));
    else edits.push(...editBlockStep(node, want, was, text));
  }
  // Removed steps: their whole lines, from the line of the first removed one to the end of the list.
  if (items.length > chain.length) {
    const first = items[chain.length] as YAMLMap;
    const last = items[items.length - 1] as YAMLMap;
    const start = lineStart(text, first.range![0]);
    const end = lineEnd(text, last.range![1]);
    edits.push({ start, end, text: '' });
  }
  // Added steps: after the last line of the last step, in its style.
  if (chain.length > items.length) {
    const last = items[items.length - 1] as YAMLMap;
    const at = lineEnd(text, last.range![1]);
    const dash = lineStart(text, last.range![0]);
    const indent = text.slice(dash, text.indexOf('-', dash));
    const added = chain.slice(items.length).map((step) => {
      const want = minimal(step, {}, defaultsOf);
      const itemColumn = indent.length + 2;
      return `${indent}- ${renderStep(want, {}, last.flow === true, text, last.range![0], itemColumn)}\n`;
    });
    const needsNewline = at > 0 && text[at - 1] !== '\n';
    edits.push({ start: at, end: at, text: (needsNewline ? '\n' : '') + added.join('') });
  }
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

/**
 * Edits a block-style step pair by pair: a changed value is replaced where it stands (a comment
 * after it stays), a removed setting loses its line, a new one is added after the last.
 */
function editBlockStep(node: YAMLMap, want: Record<string, unknown>, was: Record<string, unknown>, text: string): Edit[] {
  const edits: Edit[] = [];
  const pairs = node.items.filter((p) => isScalar(p.key) && p.key.range);
  let lastEnd = 0;
  let column = 0;
  for (const [i, pair] of pairs.entries()) {
    const key = pair.key as Scalar;
    const name = String(key.value);
    const value = pair.value as Node | null;
    const valueEnd = value?.range ? value.range[1] : key.range![1];
    if (i === 0) column = key.range![0] - lineStart(text, key.range![0]);
    lastEnd = Math.max(lastEnd, valueEnd);
    if (!(name in want)) {
      // The first setting shares its line with the list's dash: rewrite the step whole instead.
      if (i === 0) return [rewriteBlockStep(node, want, text)];
      edits.push({ start: lineStart(text, key.range![0]), end: lineEnd(text, valueEnd), text: '' });
    } else if (!sameJson(was[name], want[name])) {
      if (value?.range) edits.push({ start: value.range[0], end: value.range[1], text: renderValue(want[name]) });
      else edits.push({ start: key.range![1], end: key.range![1], text: ` ${renderValue(want[name])}` });
    }
  }
  const added = Object.keys(want).filter((k) => !(k in was));
  if (added.length > 0) {
    const at = lineEnd(text, lastEnd);
    const lines = added.map((k) => `${' '.repeat(column)}${stringify(k).trimEnd()}: ${renderValue(want[k])}\n`).join('');
    edits.push({ start: at, end: at, text: (text[at - 1] === '\n' ? '' : '\n') + lines });
  }
  return edits;
}

/** A block step replaced whole (another type now stands at its place): its lines, in block style. */
function rewriteBlockStep(node: YAMLMap, want: Record<string, unknown>, text: string): Edit {
  const start = node.range![0];
  const lastValue = node.items.at(-1)?.value as Node | null | undefined;
  const end = lastValue?.range?.[1] ?? node.range![1];
  return { start, end, text: renderStep(want, {}, false, text, start) };
}

/** A value on one line: a scalar as YAML writes it, a list or map in flow style. */
function renderValue(v: unknown): string {
  return stringify(v, { collectionStyle: 'flow' }).trimEnd();
}

/** A step without the settings that equal their defaults, unless the file had them. */
function minimal(step: InterceptorConfig, was: Record<string, unknown>, defaultsOf: DefaultsOf): Record<string, unknown> {
  const defaults = defaultsOf(step.type);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(step)) {
    if (v === undefined) continue;
    if (k !== 'type' && !(k in was) && k in defaults && sameJson(defaults[k], v)) continue;
    out[k] = v;
  }
  return out;
}

/** A step's text in the style of the node it replaces: keys in their old order, new ones after. */
function renderStep(want: Record<string, unknown>, was: Record<string, unknown>, flow: boolean, text: string, at: number, column?: number): string {
  const keys = [...Object.keys(was).filter((k) => k in want), ...Object.keys(want).filter((k) => !(k in was))];
  const ordered: Record<string, unknown> = {};
  for (const k of keys) ordered[k] = want[k];
  if (flow) {
    const padded = text[at + 1] === ' ';
    const inner = keys.map((k) => `${stringify(k).trimEnd()}: ${stringify(ordered[k], { flowCollectionPadding: padded, collectionStyle: 'flow' }).trimEnd()}`);
    return inner.length === 0 ? '{}' : padded ? `{ ${inner.join(', ')} }` : `{${inner.join(', ')}}`;
  }
  const indent = ' '.repeat(column ?? at - lineStart(text, at));
  const lines = stringify(ordered).trimEnd().split('\n');
  return lines.map((line, i) => (i === 0 ? line : indent + line)).join('\n');
}

function lineStart(text: string, at: number): number {
  return text.lastIndexOf('\n', at - 1) + 1;
}

/** The index just past the newline ending the line that holds `at - 1` (the end of a value). */
function lineEnd(text: string, at: number): number {
  const nl = text.indexOf('\n', Math.max(0, at - 1));
  return nl === -1 ? text.length : nl + 1;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, sortKeys(x)]));
  return v;
}
