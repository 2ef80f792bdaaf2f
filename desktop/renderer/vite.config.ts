/**
 * The renderer build: one static bundle that the Electron shell loads (sluice://app/) and the
 * collector serves at / of its admin address. `base: './'` keeps every asset URL relative so the
 * same files work under both origins.
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// This file runs in Node, but sits under the renderer, which may not import node:* (the lint
// rule): import.meta.dirname needs no import.
const root = import.meta.dirname;

export default defineConfig({
  root,
  base: './',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  // `vite --config desktop/renderer/vite.config.ts` for development: the API of a collector on
  // the default admin address is proxied, so the page's own origin works as a connection.
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: { '/api': { target: 'http://127.0.0.1:9410', ws: true }, '/metrics': 'http://127.0.0.1:9410' },
  },
});
