/** Health of a connection at a glance, polled for the sidebar and the Connections view. */
import { useQuery } from '@tanstack/react-query';
import type { SavedConnection } from '../../../bridge.ts';
import type { HealthResponse } from '../../../../shared/src/api/core.ts';
import { AdminClient } from '../api/client.ts';
import { AdminApiError } from '../api/errors.ts';
import type { Health } from '../components/ui.tsx';

export function healthQuery(connection: SavedConnection) {
  return {
    queryKey: ['health', connection.id, connection.url, connection.token] as const,
    queryFn: ({ signal }: { signal: AbortSignal }) => new AdminClient(connection).health(signal),
    refetchInterval: 5000,
    retry: false,
  };
}

export function healthOf(data: HealthResponse | undefined, error: unknown): Health {
  if (error instanceof AdminApiError && error.status === 401) return 'unauthorized';
  if (error) return 'down';
  if (!data) return 'unknown';
  return data.status === 'ok' ? 'ok' : 'degraded';
}

export function useHealth(connection: SavedConnection | null) {
  const q = useQuery({ ...healthQuery(connection ?? { id: '', name: '', url: 'http://invalid', token: null }), enabled: connection !== null });
  return { ...q, health: healthOf(q.data, q.error) };
}
