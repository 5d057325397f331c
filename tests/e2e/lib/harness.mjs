// The end-to-end harness: a real Tripline window under Xvfb, driven through tauri-driver
// (which fronts WebKitWebDriver), with every process it starts torn down afterwards.
//
//   const app = await launch({ name: 'scenario' });   // Xvfb + tauri-driver + the app
//   await app.click(app.button('Deploy'));
//   await app.screenshot('applications');              // <SCREENSHOTS>/applications.png
//   await app.close();                                 // kills what launch() started
//
// Each launch gets its own Xvfb display, free ports, data folder and XDG folders, so runs do
// not see each other or the user's files. tauri-driver hands its own environment to the
// app, so the app's environment is set on the tauri-driver process.
//
// Environment read here (run.sh sets them): TRIPLINE_APP (the built app), TRIPLINE_CLI
// (the built CLI), TAURI_DRIVER, WEBKIT_DRIVER, TRIPLINE_SECRETS (keyring|files),
// E2E_KEEP=1 (keep the temporary folders for a look afterwards).

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { Builder, By, Key, until } from 'selenium-webdriver';

export { By, Key, until, sleep };

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root. */
export const ROOT = path.resolve(here, '..', '..', '..');
/**
 * Where screenshots go: a scratch folder (`tests/e2e/artifacts/screenshots/`, ignored), so a
 * test run leaves the work tree clean; with `TRIPLINE_UPDATE_SCREENSHOTS=1`, the committed
 * `docs/screenshots/` that the README shows.
 */
export const SCREENSHOTS = process.env.TRIPLINE_UPDATE_SCREENSHOTS === '1'
  ? path.join(ROOT, 'docs', 'screenshots')
  : path.join(ROOT, 'tests', 'e2e', 'artifacts', 'screenshots');

const env = process.env;
/** The built desktop app (with the UI embedded: `--features custom-protocol`). */
export const APP = path.resolve(env.TRIPLINE_APP ?? path.join(ROOT, 'target/debug/tripline-desktop'));
/** The built CLI, which reads the same data folder. */
export const CLI = path.resolve(env.TRIPLINE_CLI ?? path.join(ROOT, 'target/debug/tripline'));
const TAURI_DRIVER = env.TAURI_DRIVER ?? path.join(ROOT, '.tools/bin/tauri-driver');
const WEBKIT_DRIVER = env.WEBKIT_DRIVER ?? '/usr/bin/WebKitWebDriver';
/** System Python: python3-dbus and python3-gi are Debian packages, not in a pyenv. */
export const PYTHON = env.E2E_PYTHON ?? '/usr/bin/python3';

// ---------------------------------------------------------------------------------------
// Processes: every one started here is in its own process group and is remembered, so a
// failing test, an exception or Ctrl+C still ends it (and everything it spawned).

const started = new Set();

/**
 * Starts a command in a new process group, remembered for teardown.
 * `opts.log` names a file that receives its stdout and stderr.
 */
export function start(command, args, opts = {}) {
  const { log, stdio, ...rest } = opts;
  const child = spawn(command, args, {
    detached: true, // its own process group: kill(-pid) reaches its children too
    stdio: stdio ?? ['ignore', 'pipe', 'pipe'],
    ...rest,
  });
  child.label = `${path.basename(command)} ${args.join(' ')}`.slice(0, 120);
  child.output = '';
  const keep = (chunk) => {
    child.output += chunk;
    if (child.output.length > 200_000) child.output = child.output.slice(-100_000);
  };
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.once('error', (error) => {
    child.output += `\n[spawn error] ${error.message}\n`;
  });
  if (log) {
    child.exited.then(() => writeFileSync(log, child.output));
  }
  started.add(child);
  child.exited.then(() => started.delete(child));
  return child;
}

/** All live descendants of `pid` (from /proc), deepest last. */
export function descendants(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  const out = [];
  const walk = (p) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** Whether `pid` is running (a zombie counts as ended). */
export function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Ends a started process, its process group and any descendant that left the group:
 * SIGTERM, then SIGKILL after `grace` ms.
 */
export async function stop(child, grace = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) {
    if (child) started.delete(child);
    return;
  }
  const strays = descendants(child.pid);
  signal(-child.pid, 'SIGTERM');
  for (const pid of strays) signal(pid, 'SIGTERM');
  const ended = await Promise.race([child.exited.then(() => true), sleep(grace).then(() => false)]);
  signal(-child.pid, 'SIGKILL');
  for (const pid of strays) signal(pid, 'SIGKILL');
  if (!ended) await Promise.race([child.exited, sleep(2000)]);
  started.delete(child);
}

/** Kills everything still running, synchronously (the last line of defence). */
function killAll() {
  for (const child of started) {
    for (const pid of descendants(child.pid)) signal(pid, 'SIGKILL');
    signal(-child.pid, 'SIGKILL');
  }
  started.clear();
}
process.once('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killAll();
    process.exit(128 + (os.constants.signals[sig] ?? 0));
  });
}

// ---------------------------------------------------------------------------------------
// Small waiting helpers.

/** A free TCP port on loopback (the OS picks it; a race is possible but unlikely). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
export function accepts(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Polls `cond` (sync or async) until it returns something truthy, and returns that.
 * Exceptions thrown by `cond` count as "not yet" (the last one is reported on timeout).
 */
export async function waitFor(cond, timeout = 10_000, what = 'condition', interval = 150) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await cond();
      if (value) return value;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const why = last ? ` (last error: ${last.message ?? last})` : '';
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${why}`);
    }
    await sleep(interval);
  }
}

/** `promise` with a deadline: rejects instead of hanging (for one WebDriver call). */
export function withTimeout(thenable, ms, what) {
  let timer;
  // Selenium's builder returns a thenable without `finally`; and a late rejection after the
  // deadline must not surface as an unhandled one.
  const promise = Promise.resolve(thenable);
  promise.catch(() => {});
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]);
}

// ---------------------------------------------------------------------------------------
// Xvfb.

/** Starts Xvfb on a display it picks itself (`-displayfd`), resolved once it accepts clients. */
export async function startXvfb({ size = '1280x800x24' } = {}) {
  const xvfb = start('Xvfb', ['-displayfd', '3', '-screen', '0', size, '-nolisten', 'tcp', '-noreset'], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  const display = await withTimeout(
    new Promise((resolve, reject) => {
      let buffer = '';
      xvfb.stdio[3].setEncoding('utf8').on('data', (chunk) => {
        buffer += chunk;
        if (buffer.includes('\n')) resolve(`:${buffer.trim()}`);
      });
      xvfb.exited.then(({ code }) => reject(new Error(`Xvfb exited (${code}): ${xvfb.output}`)));
    }),
    15_000,
    'Xvfb start',
  );
  xvfb.display = display;
  return xvfb;
}

// ---------------------------------------------------------------------------------------
// Launching the app.

function tempDir(prefix) {
  return mkdtempSync(path.join(os.tmpdir(), `tripline-e2e-${prefix}-`));
}

/** XPath string literal for any text (XPath 1 has no escapes). */
export function xpathLiteral(text) {
  if (!text.includes("'")) return `'${text}'`;
  if (!text.includes('"')) return `"${text}"`;
  return `concat('${text.split("'").join(`', "'", '`)}')`;
}

/**
 * Starts Xvfb, tauri-driver (and through it WebKitWebDriver and the app) and a WebDriver
 * session. Returns an {@link App}. `opts.env` adds to the app's environment;
 * `opts.before(env)` runs after Xvfb is up and before the app starts (the tray test starts
 * its StatusNotifierWatcher there).
 */
export async function launch(opts = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchOnce(opts);
    } catch (error) {
      // WebKitWebDriver picks the inspector's port, frees it and passes it to the app; until
      // the app binds it, anything else binding a free port (the app's own sandbox or
      // listener, another test) can take it, and the session then never starts. That is the
      // driver's race, not the app's fault: start over with fresh ports, twice at most.
      if (!(error instanceof InspectorPortTaken) || attempt === 3) throw error;
      console.error(`# launch ${opts.name ?? 'app'}: ${error.message.split('\n')[0]}; starting again`);
    }
  }
}

/** The app could not bind the inspector port WebKitWebDriver chose for it. */
export class InspectorPortTaken extends Error {}

const INSPECTOR_FAILED = /Failed to start remote inspector server on [^:]+:\d+: [^\n]*/;

async function launchOnce(opts) {
  const name = opts.name ?? 'app';
  for (const [what, file] of [
    ['the desktop app (cargo build -p tripline-desktop --features custom-protocol)', APP],
    ['tauri-driver (cargo install tauri-driver --locked --root .tools)', TAURI_DRIVER],
    ['WebKitWebDriver (apt-get install webkit2gtk-driver)', WEBKIT_DRIVER],
  ]) {
    if (!existsSync(file)) throw new Error(`missing ${what}: ${file}`);
  }

  const app = new App(name);
  try {
    app.xvfb = await startXvfb();
    const home = tempDir(name);
    app.home = home;
    const dirs = {
      data: path.join(home, 'data'),
      config: path.join(home, 'config'),
      share: path.join(home, 'share'),
      cache: path.join(home, 'cache'),
      logs: path.join(home, 'logs'),
    };
    for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
    app.dirs = dirs;
    app.listenPort = opts.listenPort ?? (await freePort());
    app.listen = `127.0.0.1:${app.listenPort}`;

    app.env = {
      ...process.env,
      DISPLAY: app.xvfb.display,
      GDK_BACKEND: 'x11',
      // Keyring-backed secrets are what a user gets; run.sh unlocks one in the session.
      TRIPLINE_SECRETS: process.env.TRIPLINE_SECRETS ?? 'files',
      TRIPLINE_DATA_DIR: dirs.data,
      TRIPLINE_LISTEN: app.listen,
      // The keyring daemon of the session keeps its own XDG_DATA_HOME; the app gets fresh ones.
      XDG_CONFIG_HOME: dirs.config,
      XDG_DATA_HOME: dirs.share,
      XDG_CACHE_HOME: dirs.cache,
      // GTK's accessibility bridge adds nothing here (WebDriver reads the DOM).
      NO_AT_BRIDGE: '1',
      RUST_LOG: process.env.RUST_LOG ?? 'info',
      ...(opts.env ?? {}),
    };
    delete app.env.WEBKIT_DISABLE_COMPOSITING_MODE; // screenshots hang with it
    // The app chooses how WebKit paints from the machine (src-tauri/src/painting.rs), unless
    // a test asks otherwise; a developer's own setting must not decide it here.
    for (const name of ['WEBKIT_SKIA_ENABLE_CPU_RENDERING', 'TRIPLINE_PAINTING']) {
      if (!(name in (opts.env ?? {}))) delete app.env[name];
    }
    if (opts.before) await opts.before(app);

    const port = await freePort();
    let nativePort = await freePort();
    while (nativePort === port) nativePort = await freePort();
    app.driverPort = port;
    app.tauriDriver = start(
      TAURI_DRIVER,
      ['--port', String(port), '--native-port', String(nativePort), '--native-driver', WEBKIT_DRIVER],
      { env: app.env, log: path.join(dirs.logs, 'tauri-driver.log'), cwd: home },
    );
    await waitFor(
      async () => {
        if (app.tauriDriver.exitCode !== null) {
          throw new Error(`tauri-driver exited: ${app.tauriDriver.output}`);
        }
        return (await accepts(port)) && (await accepts(nativePort));
      },
      30_000,
      `tauri-driver on ${port} and WebKitWebDriver on ${nativePort}`,
    );

    const session = new Builder()
      .usingServer(`http://127.0.0.1:${port}/`)
      .withCapabilities({ browserName: 'wry', 'tauri:options': { application: APP } })
      .build();
    // Without its inspector server the app never answers the driver: fail now, not in 60 s.
    let watching = true;
    const inspector = (async () => {
      while (watching) {
        const failed = app.tauriDriver.output.match(INSPECTOR_FAILED);
        if (failed) throw new InspectorPortTaken(failed[0]);
        await sleep(100);
      }
    })();
    try {
      app.driver = await withTimeout(
        Promise.race([session, inspector]),
        60_000,
        'the WebDriver session (app start)',
      );
    } finally {
      watching = false;
      inspector.catch(() => {});
    }
    await app.driver.manage().setTimeouts({ script: 20_000, pageLoad: 30_000, implicit: 0 });
    app.pid = await waitFor(() => app.appPid(), 10_000, 'the app process');

    const url = await app.driver.getCurrentUrl();
    if (/^https?:\/\/localhost:1420/.test(url)) {
      throw new Error(
        `${APP} loads the Vite dev server (${url}): it was built without the embedded UI. ` +
          'Build it with `cargo build -p tripline-desktop --features custom-protocol`.',
      );
    }
    // The shell is up once its navigation is rendered.
    await app.find(By.css('nav[aria-label="Main"]'), 30_000);
    return app;
  } catch (error) {
    const logs = app.diagnostics();
    await app.close().catch(() => {});
    error.message += logs;
    throw error;
  }
}

/** One running app and its session, with helpers to drive it. */
export class App {
  constructor(name) {
    this.name = name;
    this.driver = undefined;
    this.children = [];
  }

  /** The app's own PID: the descendant of tauri-driver running {@link APP}. */
  appPid() {
    if (!this.tauriDriver) return undefined;
    for (const pid of descendants(this.tauriDriver.pid)) {
      try {
        if (readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '') === APP) return pid;
      } catch {
        // not ours to read, or gone
      }
    }
    return undefined;
  }

  /** The listener's base URL. */
  get base() {
    return `http://${this.listen}`;
  }

  /** Last lines of the logs, for error messages. */
  diagnostics() {
    const parts = [];
    for (const child of [this.tauriDriver, ...this.children]) {
      if (child?.output) parts.push(`--- ${child.label}\n${child.output.split('\n').slice(-40).join('\n')}`);
    }
    return parts.length ? `\n${parts.join('\n')}` : '';
  }

  /** Runs the CLI on this app's data folder and returns its parsed `--json` output. */
  cli(...args) {
    const out = execFileSync(CLI, ['--data-dir', this.dirs.data, '--json', ...args], {
      env: this.env,
      encoding: 'utf8',
      timeout: 30_000,
    });
    return out.trim() ? JSON.parse(out) : null;
  }

  // --- finding things ------------------------------------------------------------------

  /** Waits for an element to be present and returns it. */
  async find(locator, timeout = 10_000) {
    return waitFor(
      async () => {
        const found = await this.driver.findElements(locator);
        return found[0];
      },
      timeout,
      `element ${locator}`,
    );
  }

  /** Waits for an element to be present and displayed. */
  async visible(locator, timeout = 10_000) {
    return waitFor(
      async () => {
        for (const element of await this.driver.findElements(locator)) {
          if (await element.isDisplayed()) return element;
        }
        return undefined;
      },
      timeout,
      `visible ${locator}`,
    );
  }

  /** Whether something matching `locator` is displayed now. */
  async isShown(locator) {
    for (const element of await this.driver.findElements(locator)) {
      if (await element.isDisplayed().catch(() => false)) return true;
    }
    return false;
  }

  /** Any element whose own text (normalised) equals `text` (or contains it, `{exact:false}`). */
  byText(text, { exact = true, tag = '*' } = {}) {
    const t = xpathLiteral(text);
    const test = exact ? `normalize-space(.)=${t}` : `contains(normalize-space(.), ${t})`;
    // The innermost element that matches, not every ancestor that contains it.
    return By.xpath(`//${tag}[${test} and not(.//*[${test}])]`);
  }

  /** A button (or role=button, or a submit input) by its accessible name: text, aria-label or title. */
  button(name, { exact = true } = {}) {
    const t = xpathLiteral(name);
    const has = (expr) => (exact ? `normalize-space(${expr})=${t}` : `contains(normalize-space(${expr}), ${t})`);
    return By.xpath(
      `//*[(self::button or @role='button' or self::input[@type='submit' or @type='button']) and ` +
        `(${has('.')} or ${has('@aria-label')} or ${has('@title')} or ${has('@value')})]`,
    );
  }

  /** A button or a link by its accessible name (screens use either for actions). */
  action(name, opts = {}) {
    return By.xpath(`${this.button(name, opts).value} | ${this.link(name, opts).value}`);
  }

  /** A link by its accessible name. */
  link(name, { exact = true } = {}) {
    const t = xpathLiteral(name);
    const has = (expr) => (exact ? `normalize-space(${expr})=${t}` : `contains(normalize-space(${expr}), ${t})`);
    return By.xpath(`//*[(self::a or @role='link') and (${has('.')} or ${has('@aria-label')})]`);
  }

  /** A heading (h1–h6 or role=heading) containing `text`. */
  heading(text, { exact = false } = {}) {
    const t = xpathLiteral(text);
    const test = exact ? `normalize-space(.)=${t}` : `contains(normalize-space(.), ${t})`;
    return By.xpath(`//*[(self::h1 or self::h2 or self::h3 or self::h4 or self::h5 or self::h6 or @role='heading') and ${test}]`);
  }

  /**
   * A form control by its label: `<label for>`, a wrapping `<label>`, `aria-label`,
   * `aria-labelledby` or placeholder.
   */
  field(label, { exact = true } = {}) {
    const t = xpathLiteral(label);
    const has = (expr) => (exact ? `normalize-space(${expr})=${t}` : `contains(normalize-space(${expr}), ${t})`);
    // A label's own first words, so that "Name *" (a required marker) is "Name" and
    // "Name" does not pick "Namespace".
    const own = `(${has('.')} or ${has('text()[normalize-space()][1]')})`;
    const control = `(self::input or self::textarea or self::select or @role='textbox' or @role='combobox' or @contenteditable='true')`;
    return By.xpath(
      [
        `//*[${control} and (${has('@aria-label')} or ${has('@placeholder')})]`,
        `//*[${control} and @id=//label[${own}]/@for]`,
        `//label[${own}]//*[${control}]`,
        `//*[${control} and @aria-labelledby=//*[${has('.')}]/@id]`,
      ].join(' | '),
    );
  }

  /** An element with `role` (explicit, or implied by the tag for the common ones) and name. */
  role(role, name, { exact = false } = {}) {
    const implied = {
      table: 'self::table',
      row: 'self::tr',
      dialog: 'self::dialog',
      tab: "@role='tab'",
      tabpanel: "@role='tabpanel'",
      alert: "@role='alert'",
      status: "@role='status' or self::output",
      list: 'self::ul or self::ol',
      listitem: 'self::li',
      radio: "self::input[@type='radio']",
      checkbox: "self::input[@type='checkbox']",
      switch: "@role='switch'",
      region: 'self::section[@aria-label or @aria-labelledby]',
      navigation: 'self::nav',
    };
    const is = `(@role='${role}'${implied[role] ? ` or ${implied[role]}` : ''})`;
    if (name === undefined) return By.xpath(`//*[${is}]`);
    const t = xpathLiteral(name);
    const has = (expr) => (exact ? `normalize-space(${expr})=${t}` : `contains(normalize-space(${expr}), ${t})`);
    return By.xpath(
      `//*[${is} and (${has('@aria-label')} or @aria-labelledby=//*[${has('.')}]/@id or ${has('.')})]`,
    );
  }

  // --- acting --------------------------------------------------------------------------

  /** Clicks the first displayed, enabled action (button or link) among `names`. */
  async clickFirst(names, timeout = 10_000) {
    const locator = By.xpath(names.map((n) => this.action(n).value).join(' | '));
    return this.click(locator, timeout);
  }

  /**
   * Picks `option` for the control labelled `label`: a native `<select>`, a radio group or
   * segmented buttons (a radio/button whose name is the option, inside the labelled group).
   */
  async choose(label, option) {
    const controls = await this.driver.findElements(this.field(label, { exact: false }));
    for (const control of controls) {
      if ((await control.getTagName()) === 'select' && (await control.isDisplayed())) {
        const t = xpathLiteral(option);
        const opt = await control.findElement(
          By.xpath(`.//option[normalize-space(.)=${t} or @value=${t} or contains(normalize-space(.), ${t})]`),
        );
        await opt.click();
        // WebKit's WebDriver may not fire `change` for a hidden popup's option: make sure.
        await this.driver.executeScript(
          'arguments[0].value = arguments[1].value; arguments[0].dispatchEvent(new Event("change", {bubbles: true})); arguments[0].dispatchEvent(new Event("input", {bubbles: true}));',
          control,
          opt,
        );
        return;
      }
    }
    const t = xpathLiteral(option);
    const l = xpathLiteral(label);
    // A radio labelled by the option (inside a fieldset/group named `label`, or anywhere).
    const radio = By.xpath(
      [
        `//*[(self::fieldset and .//legend[contains(normalize-space(.), ${l})]) or (@role='radiogroup' and (contains(@aria-label, ${l}) or @aria-labelledby=//*[contains(normalize-space(.), ${l})]/@id))]` +
          `//*[(self::label[contains(normalize-space(.), ${t})]) or (@role='radio' and contains(normalize-space(.), ${t})) or (self::button and normalize-space(.)=${t})]`,
        `//label[normalize-space(.)=${t}][.//input[@type='radio']]`,
        `//*[@role='radio' or @role='tab'][normalize-space(.)=${t} or @aria-label=${t}]`,
      ].join(' | '),
    );
    await this.click(radio);
  }

  /** Marks the page so that {@link App.notReloaded} can tell a reload happened since. */
  async markPage() {
    this.mark = `m${Date.now()}`;
    await this.driver.executeScript('window.__tripline_e2e = arguments[0]', this.mark);
  }

  /** True when the page is the one {@link App.markPage} marked (no reload since). */
  async notReloaded() {
    return (await this.driver.executeScript('return window.__tripline_e2e')) === this.mark;
  }

  /** Clicks the first displayed match (waiting for it, and for it to be enabled). */
  async click(locator, timeout = 10_000) {
    const element = await waitFor(
      async () => {
        for (const e of await this.driver.findElements(locator)) {
          if (!(await e.isEnabled())) continue;
          if (await e.isDisplayed()) return e;
          // Scrolled out of a scrolling box (a dialog's body): bring it in, as a person would.
          await this.driver.executeScript('arguments[0].scrollIntoView({block: "center"})', e);
          if (await e.isDisplayed()) return e;
        }
        return undefined;
      },
      timeout,
      `clickable ${locator}`,
    );
    await this.driver.executeScript('arguments[0].scrollIntoView({block: "center"})', element);
    try {
      await element.click();
    } catch {
      // Overlapped by a sticky header or a toast: a script click is what a user's click does.
      await this.driver.executeScript('arguments[0].click()', element);
    }
    return element;
  }

  /** Replaces the value of an input or textarea and fires `input`/`change` as typing would. */
  async fill(locator, text) {
    const element = await this.visible(locator);
    await element.clear().catch(() => {});
    await element.sendKeys(Key.chord(Key.CONTROL, 'a'), Key.DELETE);
    await element.sendKeys(text);
    return element;
  }

  /**
   * Sets a code editor's (CodeMirror 6) or a textarea's whole text. Typing multi-line YAML
   * into CodeMirror would get auto-indented, so the text is dispatched as one change.
   */
  async setCode(text, locator = By.css('.cm-content, textarea')) {
    const element = await this.visible(locator);
    const done = await this.driver.executeScript(
      `const el = arguments[0], text = arguments[1];
       // CodeMirror keeps its view on the content element: \`cmTile.root.view\` (6.39+) or
       // \`cmView.view\` (older). Both are what EditorView.findFromDOM reads.
       const content = el.closest('.cm-editor')?.querySelector('.cm-content');
       const view = content && (content.cmTile?.root?.view ?? content.cmView?.view);
       if (view) {
         view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
         return 'codemirror';
       }
       if (el.tagName === 'TEXTAREA' || el.tagName === 'INPUT') {
         const proto = Object.getPrototypeOf(el);
         Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, text);
         el.dispatchEvent(new Event('input', { bubbles: true }));
         el.dispatchEvent(new Event('change', { bubbles: true }));
         return 'textarea';
       }
       return '';`,
      element,
      text,
    );
    if (!done) {
      // Fall back to a paste-like typing; the editor's auto-indent may reflow it.
      await element.click();
      await element.sendKeys(Key.chord(Key.CONTROL, 'a'), Key.DELETE, text);
    }
    return element;
  }

  /** Navigates by hash route without reloading the page (`#/apps` …). */
  async go(route) {
    await this.driver.executeScript('window.location.hash = arguments[0]', route);
    await sleep(100);
  }

  /**
   * An element's rendered text (`innerText`: what a person sees, after CSS). WebKit's
   * WebDriver `getText` leaves out some visible text (the sidebar's, for one), so it is
   * not used.
   */
  async textOf(element) {
    return (await this.driver.executeScript('return arguments[0].innerText', element)) ?? '';
  }

  /**
   * An element's DOM text (`textContent`), rendered or not. For text inside a box that
   * clips it (WebKit's `innerText` leaves that out).
   */
  async domTextOf(element) {
    return (await this.driver.executeScript('return arguments[0].textContent', element)) ?? '';
  }

  /** The rendered text of the page's `<main>` (or of `locator`'s first match). */
  async text(locator = By.css('main')) {
    return this.textOf(await this.find(locator));
  }

  /** Waits until the page's text contains `text` (or matches a RegExp). */
  async waitText(text, timeout = 10_000, locator = By.css('main')) {
    return waitFor(
      async () => {
        const t = await this.textOf(await this.driver.findElement(locator));
        return typeof text === 'string' ? t.includes(text) : text.test(t) ? t : false;
      },
      timeout,
      `text ${text}`,
    );
  }

  /**
   * Saves a PNG of the window to `<SCREENSHOTS>/<name>.png` (or to `name`, an absolute
   * path) after letting the DOM settle
   * (~300 ms: WebKit paints late after a change).
   */
  async screenshot(name, settle = 300) {
    await this.tidy();
    await sleep(settle);
    // Two animation frames: the last DOM change has been laid out and painted.
    await this.driver
      .executeAsyncScript('const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done()));')
      .catch(() => {});
    const file = path.isAbsolute(name) ? name : path.join(SCREENSHOTS, `${name}.png`);
    mkdirSync(path.dirname(file), { recursive: true });
    const data = await withTimeout(this.driver.takeScreenshot(), 20_000, `screenshot ${name}`);
    writeFileSync(file, Buffer.from(data, 'base64'));
    return file;
  }

  /**
   * Before a screenshot: dismisses success toasts (errors stay: they are what a screenshot
   * should show) and parks the pointer on the brand, so no button shows its hover state.
   */
  async tidy() {
    await this.driver
      .executeScript(
        `for (const b of document.querySelectorAll('[role="status"] button[aria-label="Dismiss notification"]')) b.click();`,
      )
      .catch(() => {});
    const brand = await this.driver.findElements(By.css('.brand'));
    if (brand.length) await this.driver.actions().move({ origin: brand[0] }).perform().catch(() => {});
  }

  /** Starts a helper process that belongs to this app (stopped with it). */
  start(command, args, opts = {}) {
    const child = start(command, args, { env: this.env, ...opts });
    this.children.push(child);
    return child;
  }

  // --- teardown ------------------------------------------------------------------------

  /** Ends the session, the app, tauri-driver, Xvfb and helpers; removes the temp folders. */
  async close() {
    if (this.closed) return;
    this.closed = true;
    if (this.driver) {
      await withTimeout(this.driver.quit(), 10_000, 'WebDriver quit').catch(() => {});
    }
    const appPid = this.pid;
    await stop(this.tauriDriver);
    if (appPid && alive(appPid)) signal(appPid, 'SIGKILL');
    for (const child of this.children.reverse()) await stop(child);
    await stop(this.xvfb);
    if (this.home && !process.env.E2E_KEEP) {
      rmSync(this.home, { recursive: true, force: true });
    } else if (this.home) {
      console.log(`# kept ${this.home}`);
    }
  }
}

/** `fetch` with a timeout, returning `{status, text, json}`; network errors are thrown. */
export async function http(url, init = {}, timeout = 10_000) {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeout) });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json, headers: response.headers };
}
