import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { api } from './lib/backend';
import { takeBoot } from './lib/boot';
import { theme } from './lib/theme.svelte';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

// The saved theme before the first frame, so it is never drawn in the other one. Then read
// again: Tauri runs the boot script on every page load, so after a reload its settings are
// the ones of the app's start. Settings applies changes live.
const settings = takeBoot('settings');
if (settings) theme.set(settings.theme ?? 'system');
void api.getSettings().then((s) => theme.set(s.theme ?? 'system')).catch(() => {});

// The desktop's fonts, named before the first style pass (see src-tauri/src/boot.rs).
const fonts = takeBoot('fonts');
if (fonts) {
  document.documentElement.style.setProperty('--font-sans', fonts.sans);
  document.documentElement.style.setProperty('--font-mono', fonts.mono);
}

const app = mount(App, { target });

// Tell Rust the first screen is painted (the start-up benchmark measures up to here).
requestAnimationFrame(() =>
  requestAnimationFrame(() => {
    void api.markUiReady().catch(() => {});
  }),
);

export default app;
