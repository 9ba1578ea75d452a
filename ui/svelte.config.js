import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

// TypeScript in <script lang="ts"> is stripped by the Vite preprocessor; type checking is
// `npm run check`'s job.
export default {
  preprocess: vitePreprocess(),
  compilerOptions: { runes: true },
};
