// The tray: its menu over D-Bus (StatusNotifierItem + com.canonical.dbusmenu), the listener
// switched off and on from it, the window closed to the tray with the app (and the listener)
// still running, and Quit ending the process.
//
// Under Xvfb there is no tray host, so lib/sni_watcher.py plays the desktop's
// StatusNotifierWatcher on the session bus before the app starts.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

import { PYTHON, ROOT, accepts, alive, http, launch, sleep, waitFor } from './lib/harness.mjs';
import { clickMenu as click, menuUntil as until, sni, startWatcher, trayItem } from './lib/tray.mjs';

const run = promisify(execFile);
const X11 = path.join(ROOT, 'tests/e2e/lib/x11.py');

let app;
/** The registered item: {service, path}. */
let item;

const clickMenu = (label) => click(app, item, label);
const menuUntil = (check, what, timeout) => until(app, item, check, what, timeout);

async function healthy() {
  try {
    const { status, text } = await http(`${app.base}/healthz`, {}, 2000);
    return status === 200 && text.trim() === 'ok';
  } catch {
    return false;
  }
}

/** The app's top-level X11 windows. */
async function windows() {
  const { stdout } = await run(PYTHON, [X11, 'windows', String(app.pid)], { env: app.env, timeout: 15_000 });
  return JSON.parse(stdout);
}

before(async () => {
  // The watcher must own its name before the app looks for it.
  app = await launch({ name: 'tray', before: startWatcher });
});

after(async () => {
  await app?.close();
});

test('the app registers a tray item with the watcher', async () => {
  item = await trayItem(app);
  assert.match(item.service, /^:\d+\.\d+$|^org\./);
  const props = await sni(app, 'item', item.service, item.path);
  assert.ok(props.menu, `the item exports a Menu: ${JSON.stringify(props)}`);
  // libayatana-appindicator has no tooltips; its Title is the program name.
  assert.match(`${props.id} ${props.title}`, /tripline/i, JSON.stringify(props));
  assert.equal(props.status, 'Active', JSON.stringify(props));
});

test('the menu lists Open, the listener status, Stop listener and Quit', async () => {
  assert.ok(await waitFor(healthy, 20_000, `the listener on ${app.base}/healthz`));
  const menu = await menuUntil(
    (l) => l.some((x) => x.startsWith('Listener: running')),
    'the menu to show the listener running',
  );
  assert.equal(menu[0], 'Open Tripline');
  assert.ok(menu.includes(`Listener: running on ${app.listen}`), `status line in ${JSON.stringify(menu)}`);
  assert.ok(menu.includes('Stop listener'), JSON.stringify(menu));
  assert.ok(menu.some((x) => x === 'No trigger calls yet' || x === 'Recent trigger calls'), JSON.stringify(menu));
  assert.equal(menu.at(-1), 'Quit Tripline');
});

test('"Stop listener" stops the listener and the menu says so', async () => {
  await clickMenu('Stop listener');
  await waitFor(async () => !(await accepts(app.listenPort)), 10_000, `port ${app.listenPort} to refuse connections`);
  const menu = await menuUntil(
    (l) => l.includes('Start listener') && l.some((x) => x.startsWith('Listener: stopped')),
    'the menu to show the listener stopped',
  );
  assert.ok(!menu.includes('Stop listener'));
});

test('closing the window hides it; the app keeps running and the listener restarts from the tray', async () => {
  const [main] = await waitFor(async () => {
    const w = await windows();
    return w.length && w.filter((x) => x.mapped);
  }, 10_000, 'the main window to be mapped');
  assert.ok(main, 'a mapped main window');

  // What the title bar's close button does: WM_DELETE_WINDOW to the client.
  await run(PYTHON, [X11, 'close', String(main.id)], { env: app.env, timeout: 15_000 });
  await waitFor(async () => (await windows()).every((w) => !w.mapped), 10_000, 'the window to be hidden');
  await sleep(1000);
  assert.ok(alive(app.pid), 'the app is still running after its window was closed');

  await clickMenu('Start listener');
  assert.ok(await waitFor(healthy, 10_000, 'GET /healthz after "Start listener"'));
  await menuUntil((l) => l.includes(`Listener: running on ${app.listen}`) && l.includes('Stop listener'), 'the menu to show running again');
  assert.ok(alive(app.pid));

  // "Open Tripline" brings the same window back.
  await clickMenu('Open Tripline');
  await waitFor(async () => (await windows()).some((w) => w.mapped && w.id === main.id), 10_000, 'the window to be shown again');
});

test('"Quit Tripline" ends the process and the listener', async () => {
  const pid = app.pid;
  await clickMenu('Quit Tripline');
  await waitFor(() => !alive(pid), 15_000, `the app (pid ${pid}) to exit`);
  assert.equal(await accepts(app.listenPort), false, 'the listener is closed');
  // The session is gone with the app: teardown must not wait on it.
  app.driver = undefined;
});
