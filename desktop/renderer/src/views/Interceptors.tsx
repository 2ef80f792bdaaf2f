/** Interceptor chains per source (filled in below once the chain API is available). */
import { PageHeader } from '../components/ui.tsx';

export function InterceptorsView({ source }: { source: string | null; onSource: (s: string) => void }) {
  return <div className="view"><PageHeader title="Interceptors" subtitle={source ?? ''} /></div>;
}
