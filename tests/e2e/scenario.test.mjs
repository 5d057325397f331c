// The issue's scenario through the real window, one step per test (a failed step skips the
// rest, so the first failure is the one to read):
//
//   first run (empty state) → create a template → create an application on the sandbox
//   and deploy → edit the template (version 2) → compare 1 and 2 (split, unified) → create
//   an image trigger in regex mode (with its live tag preview) → reveal and copy its URL →
//   a registry webhook (generic JSON) → the access record appears without a reload → a
//   Docker Hub webhook with the application's screen open → the new release and the
//   Deployment's new image appear there without a reload → a tag the regex refuses →
//   an application from a Git repository (file://): its branches read into the dialog,
//   deployed, a new commit checked for changes and deployed from there → an image trigger on
//   a Git application that writes to a branch of its own, and the commit it deploys → an
//   application from a Helm chart repository (served on loopback): its versions read into the
//   dialog, deployed, new values saved, deployed, and two values versions compared → a
//   repository on a registry on loopback (Debian's docker-registry, skopeo pushing) watched:
//   a new version deploys as tag@digest within an interval, a lower one is refused on the
//   record.
//
// State is also checked from outside the window with the CLI on the same data folder.
// Each screen is saved to docs/screenshots/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { By, PYTHON, ROOT, http, launch, sleep, waitFor } from './lib/harness.mjs';
import { startRegistry } from './lib/registry.mjs';
import { menuUntil, startWatcher, trayItem } from './lib/tray.mjs';

const run = promisify(execFile);
const FIXTURES = path.join(ROOT, 'tests/e2e/fixtures');
const REGISTRY_FIXTURES = path.join(ROOT, 'crates/engine/tests/fixtures/registry');
const ARTIFACTS = path.join(ROOT, 'tests/e2e/artifacts');

const TEMPLATE = 'web';
const APP = 'web';
const TRIGGER = 'web-nginx';
const REPOSITORY = 'docker.io/library/nginx';
const PATTERN = String.raw`1\.2[0-9].*`;

let app;
/** The trigger's URL with its token, as the window revealed it. */
let hookUrl;

// --- steps: the first failure skips the rest -------------------------------------------

let broken;
/**
 * One step of the chain. `independent` steps (a screen to look at) neither wait for the
 * chain nor break it.
 */
function step(name, fn, { timeout = 90_000, independent = false } = {}) {
  test(name, { timeout }, async (t) => {
    if (broken && !independent) {
      t.skip(`not run: "${broken}" failed`);
      return;
    }
    try {
      await fn(t);
    } catch (error) {
      if (!independent) broken = name;
      if (app?.driver) {
        const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 60);
        const shot = await app.screenshot(path.join(ARTIFACTS, `failed-${slug}.png`)).catch(() => undefined);
        const text = await app.text().catch(() => '');
        error.message += `\n[screen text]\n${text.slice(0, 1500)}${shot ? `\n[screenshot] ${shot}` : ''}`;
        error.message += app.diagnostics();
      }
      throw error;
    }
  });
}

// --- helpers ---------------------------------------------------------------------------

/** Opens a main section through its navigation link (a click, as a person would). */
async function open(section) {
  await app.click(By.xpath(`//nav[@aria-label='Main']//a[.//*[normalize-space(.)='${section}']]`));
  await app.find(app.heading(section));
}

/** The CLI's view of the data folder (the app keeps running). */
const cli = (...args) => app.cli(...args);

async function releases() {
  return cli('releases', APP);
}

/** Waits for the application's release `number` to end, and returns it. */
async function releaseDone(number, timeout = 90_000) {
  return waitFor(
    async () => {
      const r = (await releases()).find((x) => x.number === number);
      return r && ['succeeded', 'failed', 'superseded'].includes(r.status) && r;
    },
    timeout,
    `release #${number} of ${APP} to finish`,
  );
}

/** Waits for the application screen's live workloads to show `image`. */
async function workloadImage(image, timeout) {
  return waitFor(
    async () => {
      for (const w of await app.driver.findElements(By.css('[data-testid="workload"]'))) {
        if ((await app.textOf(w)).includes(image)) return w;
      }
      return undefined;
    },
    timeout,
    `a workload running ${image}`,
  );
}

async function post(url, body, headers = {}) {
  return http(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A Docker Hub push of `library/nginx:<tag>`, in the shape of the fixture from Docker's docs. */
function dockerHubPush(tag) {
  const body = JSON.parse(readFileSync(path.join(REGISTRY_FIXTURES, 'dockerhub-docs.json'), 'utf8'));
  body.push_data.tag = tag;
  body.push_data.pushed_at = Math.floor(Date.now() / 1000);
  Object.assign(body.repository, {
    name: 'nginx',
    namespace: 'library',
    owner: 'library',
    repo_name: 'library/nginx',
    repo_url: 'https://hub.docker.com/_/nginx',
    is_official: true,
    is_private: false,
  });
  body.callback_url = 'https://registry.hub.docker.com/u/library/nginx/hook/4f2c1b0a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b/';
  return body;
}

// --- the scenario ----------------------------------------------------------------------

const NOTIFICATIONS = path.join(ROOT, 'tests/e2e/lib/notifications.py');

/** Plays the desktop's notification daemon on the session bus, recording what it is sent. */
async function startNotifications(app) {
  app.notifications = app.start(PYTHON, [NOTIFICATIONS]);
  await waitFor(() => app.notifications.output.includes('"ready"'), 10_000, 'the notification server');
}

/** The notifications received so far: [{summary, body, …}]. */
function notifications() {
  return app.notifications.output
    .split('\n')
    .filter((line) => line.includes('"notify"'))
    .map((line) => JSON.parse(line));
}

before(async () => {
  // With a tray watcher, so the tray's list of recent calls can be checked too, and a
  // notification server, so the desktop notifications of triggered deploys can be.
  app = await launch({
    name: 'scenario',
    before: async (a) => {
      await startWatcher(a);
      await startNotifications(a);
    },
  });
});

after(async () => {
  await app?.close();
});

step('first run: the Applications screen offers "Try it on the sandbox"', async () => {
  await app.find(app.heading('Applications'));
  await app.visible(app.action('Try it on the sandbox'), 15_000);
  await app.screenshot('first-run');
}, { independent: true });

step('Clusters lists the built-in sandbox', async () => {
  await open('Clusters');
  await app.waitText('Built-in sandbox');
  await app.screenshot('clusters');
}, { independent: true });

step('Listener shows it running on the test address', async () => {
  await open('Listener');
  await app.waitText(app.listen, 15_000);
  // The sidebar's pill follows the listener too.
  await app.waitText(/Listening on\s+127\.0\.0\.1/, 5_000, By.css('.sidebar'));
  await app.screenshot('listener');
}, { independent: true });

step('Settings', async () => {
  await open('Settings');
  await app.visible(app.field('Listener address'));
  await app.screenshot('settings');
  // A trusted proxy that is not an address or network is refused by name, nothing saved;
  // a good list is saved (and given to the running listener), then cleared again.
  await app.fill(app.field('Trusted proxies'), '127.0.0.1, proxy.local');
  await app.click(app.button('Save settings'));
  await app.waitText(/"proxy\.local" is not an IP address or network/);
  await app.fill(app.field('Trusted proxies'), '127.0.0.1, 10.0.0.0/8');
  await app.click(app.button('Save settings'));
  await app.waitText('All changes saved.');
  assert.equal(await (await app.find(app.field('Trusted proxies'))).getAttribute('value'), '127.0.0.1, 10.0.0.0/8');
  await app.fill(app.field('Trusted proxies'), ' '); // trimmed away on save
  await app.click(app.button('Save settings'));
  await app.waitText('All changes saved.');
  // Where secrets are kept: the unlocked keyring of the test session (see run.sh).
  const where = app.env.TRIPLINE_SECRETS === 'keyring' ? 'In the OS keyring' : 'In owner-only files';
  await app.waitText(where);
  // Who paints: this machine's guess (src-tauri/src/painting.rs), as the app made it.
  const gpu = existsSync('/dev/nvidia0') || (existsSync('/dev/dri') && readdirSync('/dev/dri').some((n) => n.startsWith('renderD')));
  await app.waitText(gpu ? 'On the GPU' : 'On the CPU');
  // The page's fonts, named by the shell from GTK (src-tauri/src/boot.rs). Xvfb has no
  // desktop settings, so GTK's font is its "Sans" alias, which is not named.
  const fonts = await app.driver.executeScript(
    "const s = document.documentElement.style; return [s.getPropertyValue('--font-sans'), s.getPropertyValue('--font-mono')]",
  );
  assert.deepEqual(fonts, ['sans-serif', 'monospace']);
}, { independent: true });

step('create a template from pasted YAML (version 1)', async () => {
  await open('Templates');
  await app.waitText('No templates yet');
  await app.click(app.button('New template'));
  await app.find(app.heading('New template'));
  await app.fill(app.field('Name'), TEMPLATE);
  await app.fill(app.field('Message'), 'nginx 1.25, one replica');
  // A newcomer's typo is refused as it is typed: at its line, with the field it is close to.
  const v1 = readFileSync(path.join(FIXTURES, 'web-v1.yaml'), 'utf8');
  const typo = v1.replace(
    '          image: docker.io/library/nginx:1.25\n',
    '          image: docker.io/library/nginx:1.25\n          imagePullPolcy: Always\n',
  );
  assert.notEqual(typo, v1, 'the fixture has the image line the typo follows');
  await app.setCode(typo);
  await app.waitText(/1 problem/i);
  await app.waitText(/Line 21/);
  await app.waitText(/did you mean .imagePullPolicy./);
  await app.screenshot('template-typo');
  await app.setCode(v1);
  // The editor checks the text as it changes: one object, the Deployment.
  await app.waitText(/Valid: 1 object/i);
  await app.waitText(/Objects \(1\)/i);
  await app.screenshot('template-new');
  await app.click(app.button('Create template'));
  await app.find(app.heading(TEMPLATE));
  const versions = await waitFor(() => cli('template', 'versions', TEMPLATE), 10_000, 'version 1 in the store');
  assert.deepEqual(versions.map((v) => v.number), [1]);
  assert.equal(versions[0].message, 'nginx 1.25, one replica');
  await app.screenshot('template-detail');
  await open('Templates');
  await app.find(By.css(`[data-testid="template-row"][data-template="${TEMPLATE}"]`));
  await app.screenshot('templates');
});

step('create an application on the sandbox from the template and deploy it', async () => {
  await open('Applications');
  await app.click(app.button('New application'));
  const dialog = await app.visible(app.role('dialog', 'New application'));
  await app.fill(app.field('Name'), APP);
  await app.choose('Template', TEMPLATE);
  await app.choose('Cluster', 'sandbox');
  assert.equal(await (await app.find(app.field('Namespace'))).getAttribute('value'), 'default');
  await app.screenshot('application-new');
  await app.click(app.button('Create application'));
  await waitFor(async () => !(await dialog.isDisplayed().catch(() => false)), 10_000, 'the dialog to close');
  await app.find(app.heading(APP));
  await app.click(app.button('Deploy'));
  const first = await releaseDone(1);
  assert.equal(first.status, 'succeeded', first.message);
  assert.equal(first.templateVersion, 1);
  // The screen follows the deploy by itself: the release and the live workload.
  await app.waitText(/#1\b[\s\S]*succeeded|succeeded[\s\S]*#1\b/i, 20_000);
  await workloadImage('docker.io/library/nginx:1.25', 60_000);
  await app.screenshot('application-detail');
  await open('Applications');
  const row = await app.find(By.css(`[data-testid="app-row"][data-app="${APP}"]`));
  // The list shows the rollout as the cluster has it: the one replica ready.
  await waitFor(async () => /Healthy\s*1\/1/.test(await app.textOf(row)), 20_000, 'the row to show 1/1 ready');
  await app.screenshot('applications');
});

step('edit the template: version 2', async () => {
  await open('Templates');
  await app.click(app.link(TEMPLATE));
  await app.find(app.heading(TEMPLATE));
  await app.setCode(readFileSync(path.join(FIXTURES, 'web-v2.yaml'), 'utf8'));
  await app.screenshot('template-editor');
  await app.click(app.button('Save version'));
  // Saving asks why, and shows what the save changes.
  const dialog = await app.visible(app.role('dialog', 'Save version 2'));
  await app.fill(app.field('Message'), 'two replicas and a banner');
  await waitFor(async () => /Changes from version 1/.test(await app.textOf(dialog)), 10_000, 'the review in the save dialog');
  const review = await app.find(By.css('dialog[open] .diff-view'));
  await waitFor(async () => /replicas: 2/.test(await app.textOf(review)), 10_000, 'replicas: 2 in the review');
  await app.screenshot('template-save');
  await app.click(By.xpath(`//dialog[@open]//button[@type='submit' and normalize-space(.)='Save']`));
  const versions = await waitFor(
    () => {
      const v = cli('template', 'versions', TEMPLATE);
      return v.length === 2 && v;
    },
    10_000,
    'version 2 in the store',
  );
  const v2 = versions.find((v) => v.number === 2);
  assert.equal(v2.origin, 'edit', JSON.stringify(v2));
  assert.equal(v2.message, 'two replicas and a banner');
  await app.waitText(/version 2|v2\b/i);
});

step('compare versions 1 and 2: split and unified', async () => {
  await app.click(app.action('Compare'));
  await app.choose('From', 'Version 1');
  await app.choose('To', 'Version 2');
  // Per object: the fields that changed.
  await app.waitText(/spec\.replicas/);
  await app.waitText(/containers\[name=web\]\.env/);
  const wholeDiff = async () => {
    const diff = await app.visible(By.css('.diff-view[role="group"]'), 10_000);
    await app.driver.executeScript('arguments[0].scrollIntoView({block: "start"})', diff);
    return diff;
  };
  let diff = await wholeDiff();
  await waitFor(async () => /replicas: 2/.test(await app.textOf(diff)), 10_000, 'replicas: 2 in the side-by-side diff');
  const text = await app.textOf(diff);
  assert.match(text, /replicas: 1/);
  assert.match(text, /BANNER/);
  await app.screenshot('diff-split');
  await app.click(app.button('Unified'));
  await waitFor(
    async () => {
      diff = await wholeDiff();
      const t = await app.textOf(diff);
      return /replicas: 1/.test(t) && /replicas: 2/.test(t) && /BANNER/.test(t);
    },
    10_000,
    'the unified diff',
  );
  await app.screenshot('diff-unified');
  await app.click(app.button('Side by side'));
});

step('create an image trigger in regex mode, with the live tag preview', async () => {
  await open('Triggers');
  await app.waitText('No triggers yet');
  await app.screenshot('triggers-empty');
  await app.click(app.button('New trigger'));
  await app.visible(app.role('dialog', 'New trigger'));
  await app.choose('Application', APP);
  await app.choose('What it does', 'Image');
  await app.fill(app.field('Name'), TRIGGER);
  // The template's one repository, offered (and ticked) as the template names it.
  const repo = await app.find(By.css('dialog[open] fieldset.repos input[type="checkbox"]'));
  assert.match(REPOSITORY, new RegExp(`(^|/)${await repo.getAttribute('value')}$`));
  if (!(await repo.isSelected())) await app.click(By.css('dialog[open] fieldset.repos label'));
  await app.choose('Which pushes deploy', 'Regex');
  await app.fill(app.field('Regular expression'), PATTERN);
  // The preview asks the engine about sample tags (the template's own tag among them).
  const samples = await app.visible(app.field('Sample tags'));
  await samples.sendKeys(', 1.27.3, 2.0.0');
  const preview = async () => {
    const out = {};
    for (const li of await app.driver.findElements(By.css('[data-testid="tag-preview"]'))) {
      out[(await app.domTextOf(await li.findElement(By.css('.tag')))).trim()] = (await li.getAttribute('data-matches')) === 'true';
    }
    return out;
  };
  const seen = await waitFor(
    async () => {
      const p = await preview();
      return p['1.27.3'] === true && p['2.0.0'] === false && p;
    },
    10_000,
    'the preview to judge 1.27.3 and 2.0.0',
  );
  assert.equal(seen['1.25'], true, `the template's tag is previewed: ${JSON.stringify(seen)}`);
  assert.equal(seen.latest, false, JSON.stringify(seen));
  const summary = await app.find(By.css('dialog[open] .preview [role="status"]'));
  assert.match(await app.domTextOf(summary), /\d+\s+of \d+ sample tags would deploy/);
  // The preview's verdicts, in view for the screenshot.
  await app.driver.executeScript(
    'arguments[0].scrollIntoView({block: "end"})',
    await app.find(By.css('dialog[open] [aria-label="Sample tags checked"]')),
  );
  // The pushes below name Docker Hub's nginx, which this machine may not reach: they are
  // believed as they are (the watch step below verifies against a registry on loopback).
  await app.choose('Check pushes with the registry', 'No: believe the push');
  await app.screenshot('trigger-new');
  await app.click(app.button('Create trigger'));
  await app.find(app.heading(TRIGGER));
  const made = cli('trigger', 'list').find((x) => x.name === TRIGGER);
  assert.ok(made, 'the trigger is in the store');
  assert.deepEqual(made.kind.filter, { mode: 'regex', pattern: PATTERN });
  assert.equal(made.kind.verify, 'off', JSON.stringify(made.kind));
  assert.equal(made.kind.pin_digest, true, 'pinned by digest by default');
  assert.equal(made.kind.repositories.length, 1);
  assert.ok(REPOSITORY.endsWith(made.kind.repositories[0]), JSON.stringify(made.kind.repositories));
});

step('reveal and copy the trigger URL (explicit action only)', async () => {
  const url = By.css('code[aria-label="Trigger URL"]');
  // The page does not hold the token until asked.
  assert.equal(await app.isShown(url), false);
  assert.doesNotMatch(await app.text(), /token=[A-Za-z0-9_-]{16,}/);
  await app.click(app.button('Show URL'));
  hookUrl = (await app.textOf(await app.visible(url))).trim();
  assert.match(hookUrl, /^http:\/\/127\.0\.0\.1:\d+\/hook\/registry\?token=[A-Za-z0-9_-]{16,}$/);
  assert.ok(hookUrl.startsWith(`${app.base}/`), `${hookUrl} points at ${app.base}`);
  await app.screenshot('trigger-detail');
  await app.click(app.button('Hide URL'));
  await app.click(app.button('Copy URL'));
  const { stdout } = await run(PYTHON, [path.join(ROOT, 'tests/e2e/lib/x11.py'), 'clipboard'], {
    env: app.env,
    timeout: 10_000,
  });
  assert.equal(JSON.parse(stdout).text, hookUrl, 'the clipboard holds the URL with its token');
  if (app.env.TRIPLINE_SECRETS === 'keyring') {
    // With a keyring, no token is written under the data folder.
    const files = execSync(`grep -rl --binary-files=text ${JSON.stringify(new URL(hookUrl).searchParams.get('token'))} . || true`, {
      cwd: app.dirs.data,
      encoding: 'utf8',
    });
    assert.equal(files.trim(), '', `the token is in files: ${files}`);
  }
  await open('Triggers');
  await app.waitText(TRIGGER);
  await app.screenshot('triggers');
});

step('a generic registry webhook: the access record appears without a reload', async () => {
  await open('Access records');
  await app.markPage();
  const rows = By.css('[data-testid="record-row"]');
  assert.equal((await app.driver.findElements(rows)).length, 0);
  const answer = await post(hookUrl, { image: `${REPOSITORY}:1.27.3` });
  assert.equal(answer.status, 202, answer.text);
  const row = await app.visible(rows, 15_000);
  await waitFor(async () => /202/.test(await app.textOf(row)) && /triggered/i.test(await app.textOf(row)), 10_000, 'the row to show 202 Triggered');
  assert.match(await app.textOf(row), new RegExp(TRIGGER));
  assert.ok(await app.notReloaded(), 'the screen updated in place');
  await app.screenshot('records');
  const second = await releaseDone(2);
  assert.equal(second.status, 'succeeded', second.message);
  assert.equal(second.templateVersion, 3);
  assert.equal(second.cause.type, 'trigger');
  // One record in full, its request with the token redacted.
  await row.click();
  await app.find(app.heading('Access record #'));
  await app.waitText('1.27.3');
  const record = await app.text();
  assert.ok(!record.includes(new URL(hookUrl).searchParams.get('token')), 'the token is redacted in the record');
  await app.screenshot('record-detail');
});

step('a Docker Hub webhook with the application open: release and new image appear live', async () => {
  await open('Applications');
  await app.click(app.link(APP));
  await app.find(app.heading(APP));
  await workloadImage('docker.io/library/nginx:1.27.3', 60_000); // the first trigger's deploy
  await app.markPage();
  const answer = await post(hookUrl, dockerHubPush('1.27.4'));
  assert.equal(answer.status, 202, answer.text);
  const third = await releaseDone(3);
  assert.equal(third.status, 'succeeded', third.message);
  assert.equal(third.templateVersion, 4);
  await app.waitText(/#3\b/, 15_000);
  await workloadImage('docker.io/library/nginx:1.27.4', 60_000);
  assert.ok(await app.notReloaded(), 'the application screen updated in place');
  await app.screenshot('application-detail-triggered');
  // A deploy a trigger started ends with a desktop notification that names it.
  const shown = await waitFor(
    () => notifications().find((n) => n.summary === `${APP} deployed` && n.body.includes('release 3')),
    15_000,
    `a "${APP} deployed" notification for release 3`,
  );
  assert.match(shown.body, new RegExp(`Trigger ${TRIGGER}\\b`));
  const versions = cli('template', 'versions', TEMPLATE);
  assert.deepEqual(versions.map((v) => v.number).sort(), [1, 2, 3, 4]);
  assert.match(JSON.stringify(cli('template', 'show', TEMPLATE)), /nginx:1\.27\.4/);
});

step('a tag the regex refuses is recorded and deploys nothing', async () => {
  await open('Access records');
  const answer = await post(hookUrl, { image: `${REPOSITORY}:2.0.0` });
  assert.equal(answer.status, 200, answer.text);
  assert.match(answer.text, /untriggered/);
  await app.waitText(/untriggered/i, 10_000);
  await sleep(500);
  assert.equal((await releases()).length, 3);
  await app.screenshot('records-untriggered');
});

step('the tray lists the recent trigger calls', async () => {
  const item = await trayItem(app);
  const menu = await menuUntil(app, item, (l) => l.includes('Recent trigger calls'), 'the recent calls in the tray');
  const calls = menu.filter((l) => l.startsWith(`${TRIGGER}:`));
  assert.equal(calls.length, 3, JSON.stringify(menu));
  assert.match(calls[0], /^web-nginx: 200 untriggered \(\d\d:\d\d:\d\d\)$/);
  assert.match(calls[1], /^web-nginx: 202 triggered/);
});

/** A Git repository in a temporary folder, written with the git CLI; `commit` adds a commit. */
function gitRepository() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tripline-e2e-git-'));
  const git = (...args) =>
    execSync(['git', '-c', 'user.name=Tripline E2E', '-c', 'user.email=e2e@example.com', ...args].map((a) => JSON.stringify(a)).join(' '), {
      cwd: dir,
      encoding: 'utf8',
    }).trim();
  git('init', '--quiet', '--initial-branch=main');
  const commit = (files, message) => {
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    git('add', '--all');
    git('commit', '--quiet', '-m', message);
    return git('rev-parse', 'HEAD');
  };
  return { url: `file://${dir}`, commit, git, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const configMap = (name, greeting) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  greeting: ${greeting}\n`;

step('an application from a Git repository: pick the branch, deploy, check a new commit for changes', async () => {
  const GIT_APP = 'site';
  const repo = gitRepository();
  try {
    const first = repo.commit({ 'site.yaml': configMap('site', 'hello') }, 'a greeting');
    repo.git('branch', 'staging');
    await open('Applications');
    await app.click(app.button('New application'));
    const dialog = await app.visible(app.role('dialog', 'New application'));
    await app.fill(app.field('Name'), GIT_APP);
    await app.choose('Deploys from', 'Git repository');
    await app.fill(app.field('Repository URL'), repo.url);
    await app.click(app.button('Load branches'));
    // The branches, read from the repository, in a picker with main chosen.
    const picker = await app.visible(By.css('dialog[open] select optgroup[label="Branches"]'), 15_000);
    assert.match(await app.domTextOf(picker), /staging/);
    const reference = await app.find(app.field('Branch or tag'));
    assert.equal(await reference.getAttribute('value'), 'main');
    assert.equal(await (await app.find(app.field('Directory'))).getAttribute('value'), '.');
    await app.screenshot('application-new-git');
    await app.click(app.button('Create application'));
    await waitFor(async () => !(await dialog.isDisplayed().catch(() => false)), 20_000, 'the dialog to close');
    await app.find(app.heading(GIT_APP));
    await app.waitText(repo.url);
    await app.click(app.button('Deploy'));
    const done = (number) =>
      waitFor(
        async () => {
          const r = cli('releases', GIT_APP).find((x) => x.number === number);
          return r && ['succeeded', 'failed', 'superseded'].includes(r.status) && r;
        },
        60_000,
        `release #${number} of ${GIT_APP} to finish`,
      );
    const one = await done(1);
    assert.equal(one.status, 'succeeded', one.message);
    const deployed = By.css('[data-testid="deployed-revision"]');
    await waitFor(async () => (await app.textOf(await app.find(deployed))).includes(first.slice(0, 12)), 15_000, 'the deployed commit');

    // A new commit: "Check for changes" reads it and compares it with what runs.
    const second = repo.commit({ 'site.yaml': configMap('site', 'bonjour'), 'extra.yaml': configMap('site-extra', 'hi') }, 'French, and one more');
    await app.click(app.button('Check for changes'));
    const preview = await app.visible(By.css('[data-testid="source-preview"]'), 30_000);
    await waitFor(async () => /1 changed[\s\S]*1 added/.test(await app.textOf(preview)), 10_000, 'the preview counts');
    const text = await app.textOf(preview);
    assert.match(text, new RegExp(`commit ${second.slice(0, 12)}`));
    assert.match(text, /bonjour/);
    await app.driver.executeScript('arguments[0].scrollIntoView({block: "start"})', await app.find(By.css('[data-testid="app-source"]')));
    await app.screenshot('application-git-preview');
    await app.click(By.css('[data-testid="deploy-newest"]'));
    const two = await done(2);
    assert.equal(two.status, 'succeeded', two.message);
    await waitFor(async () => (await app.textOf(await app.find(deployed))).includes(second.slice(0, 12)), 15_000, 'the new deployed commit');
    await app.driver.executeScript('arguments[0].scrollIntoView({block: "start"})', await app.find(app.heading(GIT_APP)));
    await app.screenshot('application-git');

    // The template the application keeps shows each version's commit in its history.
    await app.click(app.link('versions read'));
    await app.find(app.heading(GIT_APP));
    await app.click(app.action('History'));
    await waitFor(
      async () => (await app.driver.findElements(By.css('[data-testid="version-revision"]'))).length === 2,
      10_000,
      'two versions with their commits',
    );
    const commits = await Promise.all(
      (await app.driver.findElements(By.css('[data-testid="version-revision"]'))).map(async (e) => (await app.textOf(e)).trim()),
    );
    assert.deepEqual(commits, [second.slice(0, 12), first.slice(0, 12)]);
    await app.screenshot('template-history-git');
  } finally {
    repo.remove();
  }
}, { independent: true, timeout: 180_000 });

const deployment = (image) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  selector:\n    matchLabels: {app: shop}\n` +
  `  template:\n    metadata:\n      labels: {app: shop}\n    spec:\n      containers:\n        - name: shop\n` +
  `          image: ${image}   # set by Tripline\n`;

step('an image trigger on a Git application commits to a branch of its own, which is deployed', async () => {
  const GIT_APP = 'shop';
  const BRANCH = 'tripline/images';
  const repo = gitRepository();
  try {
    const first = repo.commit({ 'shop.yaml': deployment('registry.example/shop:v1') }, 'the shop');
    cli('app', 'create', GIT_APP, '--git', repo.url, '--ref', 'main');
    await open('Triggers');
    await app.click(app.button('New trigger'));
    const dialog = await app.visible(app.role('dialog', 'New trigger'));
    await app.choose('Application', GIT_APP);
    await app.choose('What it does', 'Image');
    // A Git application's trigger offers a branch of its own; values keys are for Helm.
    await app.visible(app.field('Write-back branch'), 10_000);
    assert.equal(await app.isShown(By.css('dialog[open] fieldset.values')), false);
    await app.fill(app.field('Write-back branch'), 'bad..name');
    await app.waitText(/cannot hold “\.\.”/, 5_000);
    await app.fill(app.field('Write-back branch'), BRANCH);
    await app.waitText(new RegExp(`commits the new image to ${BRANCH}`), 5_000);
    // registry.example is a name, not a registry: the push is believed as it is.
    await app.choose('Check pushes with the registry', 'No: believe the push');
    await app.screenshot('trigger-new-git-branch');
    await app.click(app.button('Create trigger'));
    await waitFor(async () => !(await dialog.isDisplayed().catch(() => false)), 20_000, 'the dialog to close');
    const made = cli('trigger', 'show', `${GIT_APP}-image`);
    assert.equal(made.kind.branch, BRANCH, JSON.stringify(made));
    await app.find(By.css('[data-testid="trigger-branch"]'));

    // A push: committed to the branch (main untouched), and that commit deployed.
    const { url } = cli('trigger', 'url', `${GIT_APP}-image`, '--public-url', app.base);
    const answer = await post(url, { image: 'registry.example/shop:v2' });
    assert.equal(answer.status, 202, answer.text);
    const release = await waitFor(
      async () => {
        const r = cli('releases', GIT_APP).find((x) => x.number === 1);
        return r && ['succeeded', 'failed', 'superseded'].includes(r.status) && r;
      },
      60_000,
      `release #1 of ${GIT_APP} to finish`,
    );
    assert.equal(release.status, 'succeeded', release.message);
    const written = repo.git('rev-parse', BRANCH);
    assert.equal(repo.git('rev-parse', 'main'), first, 'main is untouched');
    assert.match(repo.git('show', `${BRANCH}:shop.yaml`), /registry\.example\/shop:v2 {3}# set by Tripline/);
    await open('Applications');
    await app.click(app.link(GIT_APP));
    await app.find(app.heading(GIT_APP));
    const deployed = By.css('[data-testid="deployed-revision"]');
    await waitFor(
      async () => {
        const text = await app.textOf(await app.find(deployed));
        return text.includes(written.slice(0, 12)) && text.includes(BRANCH);
      },
      15_000,
      'the deployed commit and its branch',
    );
    await app.driver.executeScript('arguments[0].scrollIntoView({block: "start"})', await app.find(By.css('[data-testid="app-source"]')));
    await app.screenshot('application-git-branch');
  } finally {
    repo.remove();
  }
}, { independent: true, timeout: 180_000 });

/** Whether `tool` is on PATH (or in /usr/sbin). */
function installed(tool) {
  try {
    execSync(`command -v ${tool} || test -x /usr/sbin/${tool}`, { stdio: 'ignore', shell: '/bin/sh' });
    return true;
  } catch {
    return false;
  }
}

step('a watched repository on a loopback registry: a new version deploys as tag@digest, a lower one is refused', async (t) => {
  const missing = ['docker-registry', 'skopeo'].filter((tool) => !installed(tool));
  if (missing.length) {
    console.error(`SKIPPED: the watch step needs ${missing.join(' and ')} (scripts/test.sh installs them)`);
    t.skip(`${missing.join(' and ')} not installed`);
    return;
  }
  const WATCHED = 'watched';
  const registry = await startRegistry();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tripline-e2e-watch-'));
  try {
    const repository = `${registry.host}/demo/web`;
    await registry.push('demo/web:1.0.0', '1.0.0');
    const file = path.join(dir, 'watched.yaml');
    writeFileSync(file, deployment(`${repository}:1.0.0`).replaceAll('shop', WATCHED));
    cli('template', 'create', WATCHED, '-f', file);
    cli('app', 'create', WATCHED, '--template', WATCHED);
    // Watched every 5 s (the shortest interval), versions from 1.0 on, verified and pinned.
    cli('trigger', 'create', WATCHED, '--kind', 'image', '--name', `${WATCHED}-image`,
      '--repository', repository, '--semver', '>=1.0.0', '--watch', '5');
    const pushed = await registry.push('demo/web:1.1.0', '1.1.0');
    await open('Applications');
    await app.click(app.link(WATCHED));
    await app.find(app.heading(WATCHED));
    await workloadImage(`${repository}:1.1.0@${pushed}`, 30_000);
    await app.screenshot('application-watched');
    const deployed = await waitFor(
      async () => cli('releases', WATCHED).find((r) => r.status === 'succeeded'),
      30_000,
      `a release of ${WATCHED} to succeed`,
    );
    assert.equal(deployed.cause.event.format, 'watch', JSON.stringify(deployed.cause));
    assert.equal(deployed.cause.event.verification[0].digest, pushed);

    // A lower version pushed later: the watch finds it, and the anti-downgrade guard refuses
    // it, on the record.
    await registry.push('demo/web:1.0.5', '1.0.5');
    const refused = await waitFor(
      async () => cli('trigger', 'records', `${WATCHED}-image`).find((r) => /1\.0\.5/.test(r.reason) && r.decision === 'untriggered'),
      30_000,
      'a record refusing 1.0.5',
    );
    assert.match(refused.reason, /lower/);
    assert.equal(refused.method, 'WATCH');
    await open('Access records');
    await app.waitText(/1\.0\.5/, 10_000);
    await app.screenshot('records-watch-downgrade');
    const after = cli('releases', WATCHED);
    assert.equal(after.length, 1, `the lower version deployed nothing: ${JSON.stringify(after)}`);
    assert.match(JSON.stringify(cli('template', 'show', WATCHED)), new RegExp(`1\\.1\\.0@${pushed}`));
  } finally {
    registry.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, { independent: true, timeout: 180_000 });

/**
 * A chart repository in a temporary folder, served over HTTP on loopback: chart `greeter`
 * (one ConfigMap whose greeting is a value) at versions 0.1.0 and 0.2.0, packaged and
 * indexed with the helm CLI. `undefined` when helm is not installed.
 */
async function chartRepository() {
  const helm = (() => {
    try {
      return execSync('command -v helm', { encoding: 'utf8' }).trim();
    } catch {
      return undefined;
    }
  })();
  if (!helm) return undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tripline-e2e-charts-'));
  const sh = (...args) => execSync([helm, ...args].map((a) => JSON.stringify(a)).join(' '), { cwd: dir, encoding: 'utf8' });
  sh('create', 'greeter');
  const chart = path.join(dir, 'greeter');
  rmSync(path.join(chart, 'templates'), { recursive: true, force: true });
  execSync(`mkdir -p ${JSON.stringify(path.join(chart, 'templates'))}`);
  writeFileSync(
    path.join(chart, 'templates', 'configmap.yaml'),
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-greeting\ndata:\n  greeting: {{ .Values.greeting | quote }}\n',
  );
  writeFileSync(path.join(chart, 'values.yaml'), 'greeting: hello\n');
  for (const version of ['0.1.0', '0.2.0']) {
    const meta = readFileSync(path.join(chart, 'Chart.yaml'), 'utf8').replace(/^version: .*$/m, `version: ${version}`);
    writeFileSync(path.join(chart, 'Chart.yaml'), meta);
    sh('package', 'greeter');
  }
  rmSync(chart, { recursive: true, force: true });
  const port = 20000 + Math.floor(Math.random() * 20000);
  const url = `http://127.0.0.1:${port}`;
  sh('repo', 'index', '.', '--url', url);
  const server = spawn(PYTHON, ['-m', 'http.server', String(port), '--bind', '127.0.0.1'], { cwd: dir, stdio: 'ignore' });
  await waitFor(async () => (await http(`${url}/index.yaml`).catch(() => undefined))?.status === 200, 10_000, 'the chart repository');
  return {
    url,
    remove: () => {
      server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

step('an application from a Helm chart: pick the version, deploy, save values, deploy, compare values', async (t) => {
  const HELM_APP = 'greeter';
  const repo = await chartRepository();
  if (!repo) {
    t.skip('helm is not installed');
    return;
  }
  try {
    await open('Applications');
    await app.click(app.button('New application'));
    const dialog = await app.visible(app.role('dialog', 'New application'));
    await app.fill(app.field('Name'), HELM_APP);
    await app.choose('Deploys from', 'Helm chart');
    await app.fill(app.field('Chart repository'), repo.url);
    await app.fill(app.field('Chart'), 'greeter');
    await app.click(app.button('Load versions'));
    // The versions, read from the repository's index, newest first.
    const picker = await app.visible(By.css('dialog[open] select[data-testid="helm-version"]'), 15_000);
    assert.match(await app.domTextOf(picker), /0\.2\.0[\s\S]*0\.1\.0/);
    await app.choose('Version', '0.1.0');
    await app.setCode('greeting: hi\n', By.css('[data-testid="helm-values"] .cm-content'));
    await app.screenshot('application-new-helm');
    await app.click(app.button('Create application'));
    await waitFor(async () => !(await dialog.isDisplayed().catch(() => false)), 30_000, 'the dialog to close');
    await app.find(app.heading(HELM_APP));
    await app.click(app.button('Deploy'));
    const done = (number) =>
      waitFor(
        async () => {
          const r = cli('releases', HELM_APP).find((x) => x.number === number);
          return r && ['succeeded', 'failed', 'superseded'].includes(r.status) && r;
        },
        60_000,
        `release #${number} of ${HELM_APP} to finish`,
      );
    const one = await done(1);
    assert.equal(one.status, 'succeeded', one.message);
    const deployed = By.css('[data-testid="deployed-revision"]');
    await waitFor(async () => /0\.1\.0 · [0-9a-f]{12}/.test(await app.textOf(await app.find(deployed))), 15_000, 'the deployed chart version');

    // New values: saved as version 2, deployed from the offer, compared with version 1.
    const values = await app.find(By.css('[data-testid="app-values"]'));
    await app.setCode('greeting: bonjour\n', By.css('[data-testid="app-values"] .cm-content'));
    await app.fill(app.field('What changed'), 'French');
    await app.click(By.css('[data-testid="save-values"]'));
    await app.visible(By.css('[data-testid="values-saved"]'), 10_000);
    await app.click(By.css('[data-testid="deploy-values"]'));
    const two = await done(2);
    assert.equal(two.status, 'succeeded', two.message);
    await app.click(By.css('[data-testid="compare-values"]'));
    const diff = await app.visible(By.css('[data-testid="values-diff"]'), 10_000);
    const text = await app.textOf(diff);
    assert.match(text, /-greeting: hi/);
    assert.match(text, /\+greeting: bonjour/);
    assert.match(await app.textOf(values), /French/);
    await app.driver.executeScript('arguments[0].scrollIntoView({block: "start"})', await app.find(By.css('[data-testid="app-source"]')));
    await app.screenshot('application-helm');
    await app.driver.executeScript('arguments[0].scrollIntoView({block: "start"})', values);
    await app.screenshot('application-helm-values');

    // The list names the chart and its version range.
    await open('Applications');
    await app.waitText(/helm\s+greeter\s+0\.1\.0/);
    await app.screenshot('applications-helm');
  } finally {
    repo.remove();
  }
}, { independent: true, timeout: 180_000 });

step('dialogs show their whole form (WebKitGTK layout)', async () => {
  await open('Applications');
  await app.click(app.button('New application'));
  const body = await app.visible(By.css('dialog[open] .body'));
  const [client, scroll] = await app.driver.executeScript('return [arguments[0].clientHeight, arguments[0].scrollHeight]', body);
  await app.click(app.button('Cancel'));
  assert.ok(
    client >= Math.min(scroll, 300),
    `the dialog's body is ${client}px tall for ${scroll}px of form: its fields are hidden behind a scroll box`,
  );
}, { independent: true });
