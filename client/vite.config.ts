// Vite config for the Tickscope client. Run from the repo root:
//   npx vite build --config client/vite.config.ts        -> dist/web
//   npx vite --config client/vite.config.ts              -> dev server, proxying /api and /ws
//                                                          to TICKSCOPE_PORT (default 8080)
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const clientDir = fileURLToPath(new URL('.', import.meta.url));
const repoDir = fileURLToPath(new URL('..', import.meta.url));
const serverTarget = `localhost:${process.env.TICKSCOPE_PORT ?? '8080'}`;

export default defineConfig({
  root: clientDir,
  base: '/',
  plugins: [react()],
  worker: { format: 'es' },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    reportCompressedSize: true,
  },
  server: {
    // shared/ lives outside the client root.
    fs: { allow: [repoDir] },
    proxy: {
      '/api': { target: `http://${serverTarget}` },
      '/ws': { target: `ws://${serverTarget}`, ws: true },
    },
  },
});
