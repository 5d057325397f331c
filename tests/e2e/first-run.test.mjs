// The first run, as a newcomer meets it: the empty Applications screen's "Try it on the
// sandbox" makes the seed's demo application with a redeploy trigger and shows the curl
// commands that fire it; each command, run as shown by a real shell and curl, reaches the
// running listener, and the demo redeploys (the patch form first saves a new template
// version). State is checked from outside the window with the CLI.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

import { By, ROOT, launch, waitFor } from './lib/harness.mjs';

const run = promisify(execFile);
const ARTIFACTS = path.join(ROOT, 'tests/e2e/artifacts');

let app;

before(async () => {
  app = await launch({ name: 'first-run' });
});

after(async () => {
  await app?.close();
});

/** The command the panel shows under `title`, as its text. */
async function shownCommand(title) {
  const block = await app.visible(By.css(`pre[aria-label="curl: ${title}"]`), 15_000);
  return (await app.domTextOf(block)).trim();
}

/** Runs a shown command exactly as a person pasting it into a terminal would. */
async function paste(command) {
  const { stdout } = await run('bash', ['-c', `${command} --silent --show-error --max-time 20`], {
    timeout: 30_000,
  });
  return JSON.parse(stdout);
}

async function releaseDone(number) {
  return waitFor(
    async () => {
      const r = (app.cli('releases', 'demo') ?? []).find((x) => x.number === number);
      return r && ['succeeded', 'failed'].includes(r.status) && r;
    },
    90_000,
    `release #${number} of demo to finish`,
  );
}

async function guarded(name, fn) {
  try {
    await fn();
  } catch (error) {
    const shot = await app
      .screenshot(path.join(ARTIFACTS, `failed-first-run-${name}.png`))
      .catch(() => undefined);
    error.message += `\n[screen text]\n${(await app.text().catch(() => '')).slice(0, 1500)}`;
    if (shot) error.message += `\n[screenshot] ${shot}`;
    error.message += app.diagnostics();
    throw error;
  }
}

test('"Try it on the sandbox" makes the demo and shows the curl that fires it', { timeout: 120_000 }, () =>
  guarded('demo', async () => {
    await app.click(app.action('Try it on the sandbox'), 15_000);
    await app.find(app.heading('The demo is on the sandbox'), 30_000);
    const redeploy = await shownCommand('Redeploy');
    assert.match(redeploy, new RegExp(`^curl -X POST 'http://${app.listen.replace(/\./g, '\\.')}/hook/trigger\\?token=`));
    // The first deploy, started by the button, ends well.
    assert.equal((await releaseDone(1)).status, 'succeeded');
    await app.waitText(/release 1:\s*succeeded/i, 30_000);
    await app.screenshot('first-run-demo');
  }));

test('the shown redeploy command, run in a shell, redeploys the demo', { timeout: 120_000 }, () =>
  guarded('redeploy', async () => {
    const answer = await paste(await shownCommand('Redeploy'));
    assert.ok(answer.release, `the listener answers with a release: ${JSON.stringify(answer)}`);
    const release = await releaseDone(2);
    assert.equal(release.status, 'succeeded');
    assert.equal(release.cause.type, 'trigger', JSON.stringify(release.cause));
    assert.equal(release.cause.trigger, 'demo-redeploy');
  }));

test('the shown patch command saves a new template version, then deploys it', { timeout: 120_000 }, () =>
  guarded('patch', async () => {
    // As the panel says: change the image's tag, then run it.
    const shown = await shownCommand('Patch the image, then redeploy');
    const patch = shown.replace(/("image":"[^"]+:)[^"]+"/, '$1green"');
    assert.notEqual(patch, shown, `the command names an image with a tag: ${shown}`);
    const answer = await paste(patch);
    assert.ok(answer.release, JSON.stringify(answer));
    assert.equal((await releaseDone(3)).status, 'succeeded');
    const versions = app.cli('template', 'versions', 'demo');
    assert.equal(versions.length, 2, JSON.stringify(versions));
    const newest = versions.reduce((a, b) => (b.number > a.number ? b : a));
    assert.equal(newest.number, 2);
    assert.equal(newest.origin, 'patch', JSON.stringify(newest));
    const content = app.cli('template', 'show', 'demo');
    assert.match(JSON.stringify(content), /rollouts-demo:green/);
  }));
