/** A collapsible JSON tree: objects and arrays fold, long ones show their first 100 children. */
import { useState } from 'react';

const PAGE = 100;

export function JsonTree({ value, name, depth = 0, openDepth = 2 }: { value: unknown; name?: string; depth?: number; openDepth?: number }) {
  const [open, setOpen] = useState(depth < openDepth);
  const [shown, setShown] = useState(PAGE);
  const label = name !== undefined ? <span className="jt-key">{JSON.stringify(name)}: </span> : null;

  if (value === null || typeof value !== 'object') {
    return (
      <div className="jt-row" style={{ paddingLeft: depth * 14 }}>
        {label}
        <Scalar value={value} />
      </div>
    );
  }
  const isArray = Array.isArray(value);
  const entries: [string, unknown][] = isArray ? (value as unknown[]).map((v, i) => [String(i), v]) : Object.entries(value as Record<string, unknown>);
  const [openMark, closeMark] = isArray ? ['[', ']'] : ['{', '}'];
  return (
    <div className="jt-node">
      <div className="jt-row" style={{ paddingLeft: depth * 14 }}>
        <button type="button" className="jt-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>{open ? '▾' : '▸'}</button>
        {label}
        <span className="jt-punct">{openMark}</span>
        {!open && <span className="jt-summary"> {entries.length} {isArray ? 'items' : 'keys'} {closeMark}</span>}
      </div>
      {open && (
        <>
          {entries.slice(0, shown).map(([k, v]) => (
            <JsonTree key={k} name={isArray ? undefined : k} value={v} depth={depth + 1} openDepth={openDepth} />
          ))}
          {entries.length > shown && (
            <div className="jt-row" style={{ paddingLeft: (depth + 1) * 14 }}>
              <button type="button" className="link" onClick={() => setShown(shown + PAGE)}>show {Math.min(PAGE, entries.length - shown)} more of {entries.length - shown}</button>
            </div>
          )}
          <div className="jt-row" style={{ paddingLeft: depth * 14 }}><span className="jt-punct">{closeMark}</span></div>
        </>
      )}
    </div>
  );
}

function Scalar({ value }: { value: unknown }) {
  if (value === null) return <span className="jt-null">null</span>;
  switch (typeof value) {
    case 'string':
      return <span className="jt-string">{JSON.stringify(value)}</span>;
    case 'number':
    case 'bigint':
      return <span className="jt-number">{String(value)}</span>;
    case 'boolean':
      return <span className="jt-bool">{String(value)}</span>;
    default:
      return <span className="jt-null">{String(value)}</span>;
  }
}
