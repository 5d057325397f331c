import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The desktop app's Tauri configuration, at the repository's root beside Cargo.toml: Tauri
// loads the dev server from its `build.devUrl` and embeds `build.frontendDist` in release
// builds, so both are read from there rather than written down a second time.
const tauriConfPath = fileURLToPath(new URL('../tauri.conf.json', import.meta.url));
const tauriConf = JSON.parse(readFileSync(tauriConfPath, 'utf8')) as {
  build: { devUrl: string; frontendDist: string };
};
const devUrl = new URL(tauriConf.build.devUrl);

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [svelte()],
  // Keep Rust compiler output visible when run from `tauri dev`.
  clearScreen: false,
  server: {
    // Tauri's window loads exactly this address: another port would show an empty window.
    host: devUrl.hostname,
    port: Number(devUrl.port),
    strictPort: true,
    watch: {
      // The Rust side lives next door; its build output must not trigger reloads.
      ignored: ['**/src-tauri/**', '**/target/**'],
    },
  },
  envPrefix: ['VITE_', 'TAURI_'],
  build: {
    // Linux runs the webview on WebKitGTK, macOS on WKWebView: both ≈ Safari 15+.
    target: 'safari15',
    // `frontendDist` is relative to tauri.conf.json.
    outDir: fileURLToPath(new URL(tauriConf.build.frontendDist, new URL('../', import.meta.url))),
    emptyOutDir: true,
    sourcemap: false,
  },
});
