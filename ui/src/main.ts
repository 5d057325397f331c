import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { api } from './lib/backend';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

const app = mount(App, { target });

// Tell Rust the first screen is painted (the start-up benchmark measures up to here).
requestAnimationFrame(() =>
  requestAnimationFrame(() => {
    void api.markUiReady().catch(() => {});
  }),
);

export default app;
