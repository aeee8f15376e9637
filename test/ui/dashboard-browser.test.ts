// Goal: the dashboard works in a real browser against a real cluster. Headless Chromium (the
// system's, driven by puppeteer-core, which never downloads one) opens GET /ui on a follower of an
// in-process 3-node cluster: the page shows the three members and marks the leader, writes a key
// through its form and lists it, shows an API error as the API words it, deletes the key, stops
// polling while the tab is hidden, and — once the leader is stopped — shows another leader, the
// old one unreachable and the election in its timeline. With --enable-faults, its Isolate button
// on the leader brings a new leader and Heal everything mends the cluster; under `raftkv cluster`,
// Kill and Restart take a follower down and back. Without Chromium the tests are skipped.
// RAFTKV_SCREENSHOT=1 also saves the final page as docs/images/dashboard.png (the README's picture).

import assert from 'node:assert/strict';
import { access, constants, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { testUsers, writeAuthFile } from '../support/auth.js';
import { startCluster } from '../support/cluster.js';
import { SupervisedCluster } from '../support/supervised-cluster.js';
import { pause, waitFor } from '../support/wait.js';

/** CHROMIUM_PATH, else `chromium` (or `chromium-browser`) on PATH, else null. */
async function findChromium(): Promise<string | null> {
  const candidates = process.env.CHROMIUM_PATH
    ? [process.env.CHROMIUM_PATH]
    : (process.env.PATH ?? '')
        .split(path.delimiter)
        .filter((dir) => dir !== '')
        .flatMap((dir) => [path.join(dir, 'chromium'), path.join(dir, 'chromium-browser')]);
  for (const file of candidates) {
    try {
      await access(file, constants.X_OK);
      if ((await stat(file)).isFile()) return file;
    } catch {
      // not here
    }
  }
  return null;
}

const screenshotFile = fileURLToPath(new URL('../../../docs/images/dashboard.png', import.meta.url));

/** Waits in the page for `expression` (a JavaScript expression over the DOM) to be truthy. */
async function pageShows(page: Page, what: string, expression: string, timeoutMs = 20_000): Promise<void> {
  try {
    await page.waitForFunction(expression, { timeout: timeoutMs, polling: 100 });
  } catch (e) {
    const summary = await page.$eval('#summary', (el) => el.textContent).catch(() => '?');
    throw new Error(`the page did not show ${what} (summary: ${summary}): ${String(e)}`);
  }
}

/** Evaluates `expression` in the page. */
function inPage<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/**
 * A headless Chromium with a fresh profile in a temp dir, closed and removed after the test; null
 * (the test skipped, with the reason) when there is no Chromium.
 */
async function openBrowser(t: TestContext): Promise<Browser | null> {
  const executablePath = await findChromium();
  if (executablePath === null) {
    t.skip('no chromium: install it (Debian: apt-get install chromium) or set CHROMIUM_PATH');
    return null;
  }
  const profile = await mkdtemp(path.join(os.tmpdir(), 'raftkv-browser-'));
  let browser: Browser | null = null;
  t.after(async () => {
    await browser?.close();
    await rm(profile, { recursive: true, force: true });
  });
  browser = await puppeteer.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--headless=new'],
    userDataDir: profile,
    defaultViewport: { width: 1280, height: 800 },
  });
  return browser;
}

/** A new tab that records the page's script errors. */
async function newPage(browser: Browser): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  return { page, pageErrors };
}

test('the dashboard in a browser: members, leader, key browser, polling, a leader change', async (t) => {
  const browser = await openBrowser(t);
  if (browser === null) return;
  const c = await startCluster(t, { size: 3 });
  const firstLeader = await c.waitForLeader();
  for (let i = 1; i <= 8; i++) assert.equal((await c.put(firstLeader, `config/k${i}`, `v${i}`)).status, 200);
  const pageNode = c.followerOf(firstLeader);
  const { page, pageErrors } = await newPage(browser);
  let statePolls = 0;
  page.on('request', (r) => {
    if (r.url().endsWith('/ui/state')) statePolls++;
  });

  await page.goto(`http://127.0.0.1:${c.port(pageNode)}/ui`);
  await pageShows(
    page,
    'three members and the leader',
    `document.querySelectorAll('#nodes tbody tr').length === 3 && document.querySelector('#nodes tr.leader') !== null`,
  );
  const leader = await inPage<string>(page, `document.querySelector('#nodes tr.leader').dataset.id`);
  assert.equal(leader, await c.currentLeader());
  assert.equal(await inPage<string>(page, 'document.body.dataset.leader'), leader);
  await pageShows(page, 'every log row', `document.querySelectorAll('#logs .entry.committed').length >= 3`);

  // Write through the form; the key browser lists it.
  const key = 'dashboard/hello';
  await page.type('#write-form input[name=key]', key);
  await page.type('#write-form input[name=value]', 'from the browser');
  await page.click('#write-form button[type=submit]');
  await pageShows(
    page,
    'the written key in the key browser',
    `[...document.querySelectorAll('#keys tbody tr')].some((r) => r.dataset.key === ${JSON.stringify(key)})`,
  );
  assert.match(await inPage<string>(page, `document.querySelector('#kv-message').textContent`), /^wrote /);
  const read = await c.get(leader, key);
  assert.equal(read.body.value, 'from the browser');

  // An API error is shown as the API words it (status, code, message).
  await page.$eval('#write-form input[name=key]', (el) => {
    (el as unknown as { value: string }).value = 'k'.repeat(100_000);
  });
  await page.click('#write-form button[type=submit]');
  await pageShows(
    page,
    'the API error',
    `/HTTP 413 too_large/.test(document.querySelector('#kv-message.error')?.textContent ?? '')`,
  );

  // A second key, then delete the first with its button.
  await page.$eval('#write-form input[name=key]', (el) => {
    (el as unknown as { value: string }).value = 'dashboard/second';
  });
  await page.click('#write-form button[type=submit]');
  await pageShows(
    page,
    'the second key',
    `document.querySelector('#keys tr[data-key="dashboard/second"]') !== null`,
  );
  await page.click(`#keys tr[data-key="${key}"] button`);
  await pageShows(
    page,
    'the key deleted',
    `document.querySelector('#keys tr[data-key="dashboard/hello"]') === null`,
  );
  assert.equal((await c.get(leader, key)).status, 404);

  // Hidden tab: no polls at all; visible again: polls at once.
  await inPage(
    page,
    `Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
     document.dispatchEvent(new Event('visibilitychange'))`,
  );
  const whileHidden = statePolls;
  // Checking that nothing happens needs some time to pass: over two poll intervals.
  await pause(2500);
  assert.equal(statePolls, whileHidden, 'no GET /ui/state while the tab is hidden');
  await inPage(
    page,
    `delete document.visibilityState; document.dispatchEvent(new Event('visibilitychange'))`,
  );
  await waitFor('a poll once visible', () => statePolls > whileHidden, { timeoutMs: 5000 });
  // …and it shows every member with the whole log so far, committed.
  const lastIndex = (await c.debug(leader)).commitIndex;
  await pageShows(
    page,
    `index ${lastIndex} committed on every member`,
    `document.querySelectorAll('#logs .entry.committed[data-index="${lastIndex}"]').length === 3`,
  );

  // Stop the leader: the page shows another leader, the old one unreachable, the election.
  await c.stopNode(leader);
  await pageShows(
    page,
    'a new leader and the old one unreachable',
    `(() => {
       const l = document.querySelector('#nodes tr.leader');
       const old = document.querySelector('#nodes tr[data-id=${JSON.stringify(leader)}]');
       return l !== null && l.dataset.id !== ${JSON.stringify(leader)} && old !== null && old.classList.contains('unreachable');
     })()`,
    30_000,
  );
  const newLeader = await inPage<string>(page, `document.querySelector('#nodes tr.leader').dataset.id`);
  assert.notEqual(newLeader, leader);
  await pageShows(
    page,
    'the leader change in the timeline',
    `document.querySelector('#timeline').textContent.includes(${JSON.stringify(`${newLeader} elected leader`)})`,
  );
  await pageShows(
    page,
    'the majority note',
    `document.querySelector('#notes').textContent.includes('A majority is enough')`,
  );
  assert.match(
    await inPage<string>(page, `document.querySelector('#timeline').textContent`),
    new RegExp(`${leader} unreachable`),
  );

  // The clicks scrolled the page: the picture is of its top, nothing focused.
  await inPage(
    page,
    `document.activeElement?.blur(); window.scrollTo(0, 0);
     for (const el of document.querySelectorAll('.scroll')) el.scrollTop = 0`,
  );
  const png = await page.screenshot({ type: 'png' });
  assert.ok(png.length > 1000, 'a screenshot');
  if (process.env.RAFTKV_SCREENSHOT === '1') await writeFile(screenshotFile, png);
  assert.deepEqual(pageErrors, [], 'no script errors in the page');
});

test('the dashboard with --auth-file: asks for a token, needs an admin, sends it on every call', async (t) => {
  const browser = await openBrowser(t);
  if (browser === null) return;
  const authFile = await writeAuthFile(t);
  const c = await startCluster(t, { size: 1, authFile, token: testUsers.admin.token });
  await c.waitForLeader();
  const { page, pageErrors } = await newPage(browser);
  await page.goto(`http://127.0.0.1:${c.port('n1')}/ui`);
  await pageShows(page, 'the token field', `!document.querySelector('#auth').hidden`);
  assert.match(await inPage<string>(page, `document.querySelector('#auth-why').textContent`), /401/);

  // A reader's token may not see the cluster view: 403, and the page says an admin is needed.
  await page.type('#auth-form input[name=token]', testUsers.reader.token);
  await page.click('#auth-form button[type=submit]');
  await pageShows(
    page,
    'that the token is not an admin',
    `/403 permission_denied/.test(document.querySelector('#auth-why').textContent) && !document.querySelector('#auth').hidden`,
  );

  await page.type('#auth-form input[name=token]', testUsers.admin.token);
  await page.click('#auth-form button[type=submit]');
  await pageShows(
    page,
    'the member, with the admin token',
    `document.querySelector('#auth').hidden && document.querySelector('#nodes tr.leader[data-id="n1"]') !== null`,
  );
  // The token is kept for the tab (sessionStorage) and the key browser's calls carry it too.
  assert.equal(await inPage<string>(page, `sessionStorage.getItem('raftkv.token')`), testUsers.admin.token);
  await page.type('#write-form input[name=key]', 'app/x');
  await page.type('#write-form input[name=value]', '1');
  await page.click('#write-form button[type=submit]');
  await pageShows(page, 'the written key', `document.querySelector('#keys tr[data-key="app/x"]') !== null`);
  assert.deepEqual(pageErrors, []);
});

test('fault buttons: isolate the leader from the page, see a new one, heal everything', async (t) => {
  const browser = await openBrowser(t);
  if (browser === null) return;
  const c = await startCluster(t, { size: 3, enableFaults: true });
  const leader = await c.waitForLeader();
  const { page, pageErrors } = await newPage(browser);
  let statePolls = 0;
  page.on('request', (r) => {
    if (r.url().endsWith('/ui/state')) statePolls++;
  });
  await page.goto(`http://127.0.0.1:${c.port(c.followerOf(leader))}/ui`);
  await pageShows(
    page,
    'the fault buttons, enabled',
    `document.querySelectorAll('#faults tbody tr').length === 3 &&
     document.querySelector('#faults tr[data-id=${JSON.stringify(leader)}] button:not([disabled])') !== null &&
     document.querySelector('#faults-off').hidden`,
  );
  const isolate = await page.waitForSelector(`#faults tr[data-id="${leader}"] button[title^="drop every"]`);
  // A row is drawn anew only when what it shows changed: across polls that change nothing, the
  // button found stays the one on the page (a click is never lost to a redraw). Polls follow one
  // another, so the second one sent means the first was answered and drawn.
  const signature = `document.querySelector('#faults tr[data-id=${JSON.stringify(leader)}]').dataset.sig`;
  const before = await inPage<string>(page, signature);
  const polled = statePolls;
  await waitFor('two more polls', () => statePolls >= polled + 2, { timeoutMs: 10_000 });
  assert.equal(await inPage<string>(page, signature), before, 'nothing the row shows changed');
  assert.ok(await isolate!.evaluate((b) => b.isConnected), 'the row was not drawn anew');
  await isolate!.click();
  await pageShows(
    page,
    'a new leader after isolating the old one',
    `(() => {
       const l = document.querySelector('#nodes tr.leader');
       return l !== null && l.dataset.id !== ${JSON.stringify(leader)};
     })()`,
    30_000,
  );
  assert.match(
    await inPage<string>(page, `document.querySelector('#timeline').textContent`),
    new RegExp(`you: isolate ${leader}`),
  );
  // The page names the rule at work.
  await pageShows(
    page,
    'the note on isolation',
    `document.querySelector('#notes').textContent.includes('Isolated.')`,
  );
  // …with a link to where it is explained, which the node serves.
  const href = await inPage<string>(
    page,
    `[...document.querySelectorAll('#notes li')].find((li) => li.textContent.includes('Isolated.')).querySelector('a').getAttribute('href')`,
  );
  assert.equal(href, '/ui/docs/faults.md');
  assert.equal((await c.client(leader).send({ method: 'GET', path: href })).status, 200);
  assert.match(
    await inPage<string>(
      page,
      `document.querySelector('#faults tr[data-id=${JSON.stringify(leader)}]').textContent`,
    ),
    /isolated/,
  );
  // Heal everything: every member without faults, and the old leader following again.
  await page.click('#heal-all');
  await pageShows(
    page,
    'every member healed, the old leader a follower',
    `[...document.querySelectorAll('#faults tbody tr td:nth-child(2)')].every((td) => td.textContent === 'none') &&
     document.querySelector('#nodes tr[data-id=${JSON.stringify(leader)}]')?.classList.contains('leader') === false &&
     document.querySelector('#nodes tr[data-id=${JSON.stringify(leader)}] .role')?.textContent === 'follower'`,
    30_000,
  );
  for (const id of c.ids) assert.equal(((await c.debug(id)).faults as { isolate: boolean }).isolate, false);
  assert.deepEqual(pageErrors, []);
});

test('kill and restart buttons under raftkv cluster: a follower killed shows down, restarted shows back', async (t) => {
  const browser = await openBrowser(t);
  if (browser === null) return;
  const c = await SupervisedCluster.start(t, { size: 3 });
  const { id: leader } = await c.waitForLeader();
  const pageNode = c.ids.find((id) => id !== leader)!;
  const victim = c.ids.find((id) => id !== leader && id !== pageNode)!;
  const { page, pageErrors } = await newPage(browser);
  await page.goto(`http://127.0.0.1:${c.base + c.ids.indexOf(pageNode)}/ui`);
  const kill = await page.waitForSelector(`#faults tr[data-id="${victim}"] button[title^="SIGKILL"]`);
  await kill!.click();
  await pageShows(
    page,
    `${victim} unreachable after the kill`,
    `document.querySelector('#nodes tr[data-id=${JSON.stringify(victim)}]')?.classList.contains('unreachable') === true`,
    30_000,
  );
  assert.equal((await c.nodes()).find((n) => n.id === victim)?.running, false, 'the process is gone');
  const restart = await page.waitForSelector(
    `#faults tr[data-id="${victim}"] button[title^="start the process"]`,
  );
  await restart!.click();
  await pageShows(
    page,
    `${victim} back as a follower`,
    `(() => {
       const row = document.querySelector('#nodes tr[data-id=${JSON.stringify(victim)}]');
       return row !== null && !row.classList.contains('unreachable') && row.querySelector('.role')?.textContent === 'follower';
     })()`,
    30_000,
  );
  assert.match(
    await inPage<string>(page, `document.querySelector('#timeline').textContent`),
    new RegExp(`you: kill ${victim}`),
  );
  assert.deepEqual(pageErrors, []);
});

test('exercise 1 from the page: its steps narrated as they come, then PASS with what it observed', async (t) => {
  const browser = await openBrowser(t);
  if (browser === null) return;
  const c = await startCluster(t, { size: 3, enableFaults: true });
  const leader = await c.waitForLeader();
  const pageNode = c.followerOf(leader);
  const { page, pageErrors } = await newPage(browser);
  let runPolls = 0;
  page.on('request', (r) => {
    if (/\/ui\/exercises\/[^/]+$/.test(r.url())) runPolls++;
  });
  await page.goto(`http://127.0.0.1:${c.port(pageNode)}/ui`);
  await pageShows(
    page,
    'the four exercise buttons',
    `document.querySelectorAll('#exercise-buttons button:not([disabled])').length === 4`,
  );
  assert.deepEqual(
    await inPage<string[]>(
      page,
      `[...document.querySelectorAll('#exercise-buttons button')].map((b) => b.textContent)`,
    ),
    ['1. Basic operations', '2. Leader failover', '3. Network partition (5 nodes)', '4. Persistence'],
  );
  await page.click('#exercise-buttons button[data-exercise="1"]');
  await pageShows(
    page,
    'PASS for exercise 1 with its steps',
    `document.querySelector('#exercise-result.pass') !== null && !document.querySelector('#exercise-result').hidden`,
    30_000,
  );
  const steps = await inPage<string[]>(
    page,
    `[...document.querySelectorAll('#exercise-steps li')].map((li) => li.textContent)`,
  );
  assert.ok(steps.length >= 5, steps.join('\n'));
  assert.match(steps[0]!, /^\+\d+\.\d s Waiting for a leader among n1, n2, n3/);
  assert.match(steps.join('\n'), new RegExp(`${leader} leads \\(term \\d+\\)`));
  assert.match(steps.join('\n'), /Stale reads with minIndex=\d+/);
  const result = await inPage<string>(page, `document.querySelector('#exercise-result').textContent`);
  assert.match(
    result,
    /PASS exercise 1 \(Basic operations\): every node \(n1, n2, n3\) returned the value committed/,
  );
  assert.match(
    result,
    new RegExp(`${leader} led term \\d+; the write committed at index \\d+ read back on every node`),
  );
  assert.match(result, /staleReads/);
  assert.ok(runPolls >= 1, 'the page polled the run');
  const timeline = await inPage<string>(page, `document.querySelector('#timeline').textContent`);
  assert.match(timeline, /you: exercise 1 \(Basic operations\) started/);
  assert.match(timeline, /exercise 1 \(Basic operations\): PASS/);
  // The buttons are back; exercise 4 is refused here (no supervisor), as the node words it.
  await pageShows(
    page,
    'the buttons enabled again',
    `document.querySelectorAll('#exercise-buttons button:not([disabled])').length === 4`,
  );
  await page.click('#exercise-buttons button[data-exercise="4"]');
  await pageShows(
    page,
    'exercise 4 refused',
    `/HTTP 404 not_supervised.*raftkv cluster --enable-faults/.test(document.querySelector('#exercise-status.error')?.textContent ?? '')`,
  );
  assert.deepEqual(pageErrors, []);
});

test('exercise 2 from the page of the leader under raftkv cluster: the page waits out its node, then PASS', async (t) => {
  const browser = await openBrowser(t);
  if (browser === null) return;
  const c = await SupervisedCluster.start(t, { size: 3, args: ['--enable-faults'] });
  const { id: leader } = await c.waitForLeader();
  const { page, pageErrors } = await newPage(browser);
  // The page of the leader: the exercise kills the very node that serves it.
  await page.goto(`http://127.0.0.1:${c.base + c.ids.indexOf(leader)}/ui`);
  await pageShows(
    page,
    'the exercise buttons',
    `document.querySelectorAll('#exercise-buttons button:not([disabled])').length === 4`,
  );
  await page.click('#exercise-buttons button[data-exercise="2"]');
  await pageShows(
    page,
    'that its node is down and the exercise goes on',
    `/this node is down .*the exercise goes on in the supervisor/.test(document.querySelector('#exercise-status').textContent)`,
    30_000,
  );
  await pageShows(
    page,
    'PASS for exercise 2 once the node is back',
    `document.querySelector('#exercise-result.pass') !== null && !document.querySelector('#exercise-result').hidden`,
    60_000,
  );
  const result = await inPage<string>(page, `document.querySelector('#exercise-result').textContent`);
  assert.match(
    result,
    new RegExp(
      `failover took \\d+\\.\\d s: n\\d leads term \\d+ after ${leader} \\(SIGKILL through the supervisor\\)`,
    ),
  );
  const steps = await inPage<string>(page, `document.querySelector('#exercise-steps').textContent`);
  assert.match(steps, new RegExp(`${leader} leads \\(term \\d+\\); killing it`));
  assert.match(steps, new RegExp(`Restarting ${leader} on its data dir`));
  assert.match(
    await inPage<string>(page, `document.querySelector('#timeline').textContent`),
    /you: exercise 2 \(Leader failover\) started in the supervisor.*exercise 2 \(Leader failover\): PASS|exercise 2 \(Leader failover\): PASS.*you: exercise 2 \(Leader failover\) started in the supervisor/,
  );
  assert.deepEqual(pageErrors, []);
});
