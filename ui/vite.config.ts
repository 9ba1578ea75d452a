import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  plugins: [svelte()],
  // Tauri loads the window from its own asset protocol, so every URL must be relative.
  base: './',
  // Keep Tauri's CLI output visible when it runs `vite` for `tauri dev`.
  clearScreen: false,
  server: {
    // Tauri's convention; src-tauri/tauri.conf.json's devUrl must match.
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
