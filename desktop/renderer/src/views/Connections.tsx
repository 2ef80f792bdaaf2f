/**
 * Connections: the collectors and hubs this app knows, each with URL and token, and their status
 * at a glance. Saved between runs (Electron: encrypted tokens through the shell; browser:
 * localStorage of this origin).
 */
import { useQueries } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import type { SavedConnection } from '../../../bridge.ts';
import { normalizeUrl } from '../api/client.ts';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { PageHeader, StatusDot } from '../components/ui.tsx';
import { newConnectionId } from '../lib/connections.ts';
import { formatDuration } from '../lib/format.ts';
import { healthOf, healthQuery } from '../lib/health.ts';
import { useConnections } from '../state.tsx';

export function ConnectionsView({ onOpen }: { onOpen: (id: string) => void }) {
  const { connections, active, save, remove, tokensPersisted, storeKind, storeError } = useConnections();
  const [editing, setEditing] = useState<SavedConnection | null>(null);
  const health = useQueries({ queries: connections.map((c) => healthQuery(c)) });

  return (
    <div className="view connections-view">
      <PageHeader
        title="Connections"
        subtitle={storeKind === 'electron'
          ? tokensPersisted ? 'Tokens are kept encrypted by your system keychain.' : 'No system keychain is available: tokens are kept for this session only.'
          : 'Saved in this browser (localStorage of this page\'s origin).'}
        actions={<button type="button" className="primary" onClick={() => setEditing({ id: newConnectionId(), name: '', url: 'http://127.0.0.1:9410', token: null })}>Add connection</button>}
      />
      {storeError && <ErrorBox error={new Error(storeError)} compact />}
      {editing && (
        <ConnectionForm
          initial={editing}
          isNew={!connections.some((c) => c.id === editing.id)}
          onCancel={() => setEditing(null)}
          onSave={async (c) => {
            await save(c);
            setEditing(null);
            onOpen(c.id);
          }}
        />
      )}
      {connections.length === 0 && !editing && (
        <div className="empty">No connections yet. Add the admin address of a collector or hub (default <code>http://127.0.0.1:9410</code>).</div>
      )}
      <div className="card-grid">
        {connections.map((c, i) => {
          const h = health[i];
          const status = healthOf(h?.data, h?.error);
          return (
            <div key={c.id} className={`card connection-card${active?.id === c.id ? ' active' : ''}`} data-testid={`connection-${c.id}`}>
              <div className="card-title">
                <StatusDot status={status} label="" />
                <span>{c.name || c.url}</span>
                {active?.id === c.id && <span className="badge">active</span>}
              </div>
              <div className="muted mono">{c.url}</div>
              <div className="connection-status">
                {status === 'ok' || status === 'degraded' ? (
                  <>
                    <StatusDot status={status} />
                    <span className="muted">
                      {h.data?.collectorId} · v{h.data?.version} · up {formatDuration(h.data?.uptimeMs ?? 0)}
                      {h.data?.readonly ? ' · read-only (inspect)' : ''}
                    </span>
                  </>
                ) : status === 'unauthorized' ? (
                  <span className="warn-text">Needs a token: edit this connection and paste the collector's admin.token.</span>
                ) : status === 'down' ? (
                  <span className="error-text">Unreachable: is the collector running at this address?</span>
                ) : (
                  <span className="muted">Checking…</span>
                )}
              </div>
              <div className="muted">{c.token ? 'Token set' : 'No token'}</div>
              <div className="card-actions">
                <button type="button" className="primary" onClick={() => onOpen(c.id)}>Open</button>
                <button type="button" onClick={() => setEditing(c)}>Edit</button>
                <button type="button" className="danger" onClick={() => { if (confirm(`Remove connection "${c.name || c.url}"?`)) void remove(c.id); }}>Remove</button>
              </div>
            </div>
          );
        })}
      </div>
    </div>
  );
}

function ConnectionForm({ initial, isNew, onSave, onCancel }: { initial: SavedConnection; isNew: boolean; onSave: (c: SavedConnection) => Promise<void>; onCancel: () => void }) {
  const [name, setName] = useState(initial.name);
  const [url, setUrl] = useState(initial.url);
  const [token, setToken] = useState(initial.token ?? '');
  const [problem, setProblem] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    let normalized: string;
    try {
      normalized = normalizeUrl(url);
      const parsed = new URL(normalized);
      if (parsed.pathname !== '/' && parsed.pathname !== '') throw new Error('path');
    } catch {
      setProblem('The URL must be the admin address of a collector, like http://127.0.0.1:9410 (no path).');
      return;
    }
    try {
      await onSave({ id: initial.id, name: name.trim() || new URL(normalized).host, url: normalized, token: token.trim() || null });
    } catch (error) {
      setProblem(error instanceof Error ? error.message : String(error));
    }
  };

  return (
    <form className="card form connection-form" onSubmit={submit} aria-label="Connection">
      <h2>{isNew ? 'Add a connection' : `Edit ${initial.name}`}</h2>
      <label>
        Name
        <input name="name" value={name} onChange={(e) => setName(e.target.value)} placeholder="edge-eu-1" />
      </label>
      <label>
        Admin URL
        <input name="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="http://127.0.0.1:9410" required />
      </label>
      <label>
        Token <span className="muted">(admin.token; empty when the collector needs none)</span>
        <input name="token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} />
      </label>
      {problem && <div className="error-text" role="alert">{problem}</div>}
      <div className="form-actions">
        <button type="submit" className="primary">Save and open</button>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
