/** Export a range of a topic (with the current filters) as NDJSON or CSV. */
import { useEffect, useState, type FormEvent } from 'react';
import { InputProblem } from '../../api/errors.ts';
import { ErrorBox } from '../../components/ErrorBox.tsx';
import { formatCount } from '../../lib/format.ts';
import { saveText } from '../../lib/save.ts';
import { useClient } from '../../state.tsx';
import { describeFilters, hasFilters, toFilterQuery, type Filters } from './filters.ts';

export function ExportDialog({ topic, low, high, filters, onClose }: { topic: string; low: number; high: number; filters: Filters; onClose: () => void }) {
  const client = useClient();
  const [format, setFormat] = useState<'ndjson' | 'csv'>('ndjson');
  const [from, setFrom] = useState(String(Math.max(low, high - 10_000)));
  const [to, setTo] = useState(String(high));
  const [useFilters, setUseFilters] = useState(hasFilters(filters));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<string | null>(null);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const f = Number(from);
    const t = Number(to);
    if (!Number.isInteger(f) || !Number.isInteger(t) || f < 0 || t <= f) {
      setError(new InputProblem(`The range must be two offsets with from < to (the topic holds ${low}…${high - 1}).`));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const text = await client.exportText(topic, { format, from: f, to: t, ...(useFilters ? toFilterQuery(filters) : {}) });
      const name = `${topic}-${f}-${t - 1}.${format}`;
      setResult(await saveText(name, text, format === 'csv' ? 'text/csv' : 'application/x-ndjson', [format]));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="modal-backdrop" role="presentation" onClick={onClose}>
      <form className="modal form" role="dialog" aria-label="Export" onSubmit={submit} onClick={(e) => e.stopPropagation()}>
        <h2>Export {topic}</h2>
        <div className="row">
          <label>Format
            <select value={format} onChange={(e) => setFormat(e.target.value as 'ndjson' | 'csv')}>
              <option value="ndjson">NDJSON (one event per line)</option>
              <option value="csv">CSV</option>
            </select>
          </label>
          <label>From offset<input value={from} onChange={(e) => setFrom(e.target.value)} inputMode="numeric" /></label>
          <label>To offset (exclusive)<input value={to} onChange={(e) => setTo(e.target.value)} inputMode="numeric" /></label>
        </div>
        <div className="muted small">The topic holds offsets {formatCount(low)} … {formatCount(Math.max(low, high - 1))}.</div>
        {hasFilters(filters) && (
          <label className="inline"><input type="checkbox" checked={useFilters} onChange={(e) => setUseFilters(e.target.checked)} /> Only events matching the filters ({describeFilters(filters)})</label>
        )}
        {error !== null && <ErrorBox error={error} compact />}
        {result && <div className="ok-text" role="status">{result}</div>}
        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy}>{busy ? 'Exporting…' : 'Export'}</button>
          <button type="button" onClick={onClose}>Close</button>
        </div>
      </form>
    </div>
  );
}
