/** Filter bar: key, headers, body text/regex, JSONata — the server-side filters of the API. */
import { useState, type FormEvent, type Ref } from 'react';
import { filterProblem, hasFilters, NO_FILTERS, type Filters } from './filters.ts';

export function FilterBar({ applied, onApply, inputRef }: { applied: Filters; onApply: (f: Filters) => void; inputRef?: Ref<HTMLInputElement> }) {
  const [draft, setDraft] = useState<Filters>(applied);
  const [problem, setProblem] = useState<string | null>(null);
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setDraft({ ...draft, [k]: e.target.value });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const p = filterProblem(draft);
    setProblem(p);
    if (!p) onApply(draft);
  };
  return (
    <form className="filter-bar" onSubmit={submit} aria-label="Filters">
      <input ref={inputRef} name="bodyContains" placeholder="Body contains" value={draft.bodyContains} onChange={set('bodyContains')} />
      <input name="key" placeholder="Key equals" value={draft.key} onChange={set('key')} />
      <input name="header" placeholder="Header name:value" value={draft.header} onChange={set('header')} />
      <input name="bodyRegex" placeholder="Body regex /…/i" value={draft.bodyRegex} onChange={set('bodyRegex')} />
      <input name="jsonata" className="wide" placeholder="JSONata predicate, e.g. amount > 100" value={draft.jsonata} onChange={set('jsonata')} />
      <button type="submit" className="primary">Filter</button>
      {hasFilters(applied) && (
        <button type="button" onClick={() => { setDraft(NO_FILTERS); setProblem(null); onApply(NO_FILTERS); }}>Clear</button>
      )}
      {problem && <div className="error-text filter-problem" role="alert">{problem}</div>}
    </form>
  );
}
