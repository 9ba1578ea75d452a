import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  plugins: [svelte()],
  // Tauri loads the window from its own asset protocol, so every URL must be relative.
  base: './',
  // Keep other tools' output visible next to Vite's.
  clearScreen: false,
  server: {
    // Only for `npm run dev` in a plain browser: tauri.conf.json has no devUrl on purpose, so
    // debug builds load dist/ as release builds do.
    port: 1420,
    strictPort: true,
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Linux windows are WebKitGTK, whose JavaScript/CSS support tracks Safari 15.
    target: 'safari15',
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
