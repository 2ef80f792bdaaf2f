/** Renderer entry: React root, the query client, the connections, the app. */
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { ConnectionsProvider } from './state.tsx';
import './styles.css';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A failing collector is reported at once; polling queries try again on their own.
      retry: false,
      refetchOnWindowFocus: false,
      staleTime: 1000,
    },
  },
});

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root');
createRoot(root).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <ConnectionsProvider>
        <App />
      </ConnectionsProvider>
    </QueryClientProvider>
  </StrictMode>,
);
