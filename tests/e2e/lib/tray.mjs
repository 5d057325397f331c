// The tray from outside, as a desktop's panel sees it: lib/sni_watcher.py plays the
// StatusNotifierWatcher (there is none under Xvfb) and reads and clicks the item's
// com.canonical.dbusmenu menu.
//
//   const app = await launch({ before: startWatcher });   // the watcher must come first
//   const item = await trayItem(app);
//   await menuLabels(app, item);                           // ['Open Tripline', …]
//   await clickMenu(app, item, 'Stop listener');

import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

import { PYTHON, ROOT, waitFor } from './harness.mjs';

const run = promisify(execFile);
export const SNI = path.join(ROOT, 'tests/e2e/lib/sni_watcher.py');

/** For `launch({before})`: starts the watcher on the session bus and waits until it owns its name. */
export async function startWatcher(app) {
  app.watcher = app.start(PYTHON, [SNI, 'watch']);
  await waitFor(() => app.watcher.output.includes('"ready"'), 10_000, 'the StatusNotifierWatcher');
}

/** Runs sni_watcher.py with `args` in the app's session and parses its JSON answer. */
export async function sni(app, ...args) {
  const { stdout } = await run(PYTHON, [SNI, ...args], { env: app.env, timeout: 15_000 });
  return JSON.parse(stdout);
}

/** The app's registered StatusNotifierItem: `{service, path}`. */
export async function trayItem(app, timeout = 20_000) {
  const line = await waitFor(
    () => app.watcher.output.split('\n').find((l) => l.includes('"registered"')),
    timeout,
    'a StatusNotifierItem registration',
  );
  const { service, path: itemPath } = JSON.parse(line);
  return { service, path: itemPath };
}

/** The menu's visible labels, top level, in order (separators left out). */
export async function menuLabels(app, item) {
  const { items } = await sni(app, 'layout', item.service, item.path);
  return items.filter((i) => i.visible && i.type !== 'separator').map((i) => i.label);
}

/** Waits until `check(labels)` holds for the menu; returns the labels. */
export async function menuUntil(app, item, check, what, timeout = 10_000) {
  let last = [];
  try {
    return await waitFor(
      async () => {
        last = await menuLabels(app, item);
        return check(last) && last;
      },
      timeout,
      what,
    );
  } catch (error) {
    error.message += `; the menu was ${JSON.stringify(last)}`;
    throw error;
  }
}

/** Clicks the first menu item whose label starts with `label` (dbusmenu `Event "clicked"`). */
export async function clickMenu(app, item, label) {
  const { clicked } = await sni(app, 'click', item.service, item.path, label);
  return clicked;
}
