// Drives the demo dashboard over HTTPS in Debian's headless chromium through
// playwright-core, as on a first run (the default users): log in with the password form as
// alice, create an API key with ticked scopes and a rate, use it, see the requests in the
// key's usage chart once the key store has written them, rotate it with a grace period,
// revoke it after the confirmation page, and check that the pages' CSP blocks an injected
// inline script.
//
//   DEMO_URL=https://127.0.0.1:PORT CERT=cert.pem NODE_EXTRA_CA_CERTS=cert.pem \
//   SCREENSHOTS=target/browser-screenshots node dashboard.mjs
//
// Chromium accepts the demo's self-signed certificate through
// --ignore-certificate-errors-spki-list with the SHA-256 of its public key (that key only);
// Node's fetch trusts it through NODE_EXTRA_CA_CERTS. Prints one JSON line on success;
// exits 1 otherwise.
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const demo = process.env.DEMO_URL;
const cert = process.env.CERT;
const screenshots = process.env.SCREENSHOTS;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!demo || !cert || !screenshots) {
  console.error('DEMO_URL, CERT and SCREENSHOTS are required');
  process.exit(2);
}

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

// Requests made with the key, and how long the usage chart may take to show them (the key
// store writes counts every second: the test starts the demo with DEMO_USAGE_FLUSH=1s).
const USES = 3;
const CHART_WAIT_MS = 30000;

async function whoami(key) {
  const res = await fetch(`${demo}/api/whoami`, { headers: { 'x-api-key': key } });
  return { status: res.status, body: res.status === 200 ? await res.json() : null };
}

// The base64 SHA-256 of the certificate's SubjectPublicKeyInfo, as chromium wants it.
const spki = new X509Certificate(readFileSync(cert)).publicKey.export({ type: 'spki', format: 'der' });
const spkiHash = createHash('sha256').update(spki).digest('base64');

mkdirSync(screenshots, { recursive: true });
const shots = [];
async function shoot(page, name) {
  const path = join(screenshots, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  shots.push(path);
}

const userDataDir = mkdtempSync(join(tmpdir(), 'towerauth-demo-chromium-'));
let context;
let page;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--ignore-certificate-errors-spki-list=${spkiHash}`,
    ],
    viewport: { width: 1200, height: 800 },
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: demo });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15000);
  const consoleMessages = [];
  page.on('console', (message) => consoleMessages.push(message.text()));

  const first = await page.goto(`${demo}/`);
  check(first.url().startsWith('https://'), 'not over HTTPS');
  check(first.headers()['strict-transport-security'] === 'max-age=31536000', 'no HSTS');
  await page.getByLabel('User name').fill('alice');
  await page.getByLabel('Password').fill('alice-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${demo}/`);
  check((await page.locator('header .who').innerText()).includes('password:alice'), 'not logged in as password:alice');

  // Create a key with two ticked scopes and a rate; it is shown once, with a working copy button
  // (the one script, loaded from /static/dashboard.js under the CSP).
  await page.getByLabel('Name').fill('browser-key');
  check(await page.getByLabel('read').isChecked(), 'read is not ticked by default');
  await page.getByLabel('write').check();
  await page.getByLabel('Rate limit').fill('5/s');
  await page.getByRole('button', { name: 'Create key' }).click();
  const key = (await page.locator('#new-key-value').innerText()).trim();
  check(/^sk_live_[0-9A-Za-z]{61}$/.test(key), 'the new key is not shown');
  check(await page.getByText('shown only once').isVisible(), 'no copy hint');
  const copy = page.getByRole('button', { name: 'Copy' });
  // The script runs after the page is parsed: wait for its button (bounded), do not sample.
  const copyShown = await copy.waitFor({ state: 'visible', timeout: 5000 }).then(() => true, () => false);
  check(copyShown, 'the copy script did not run');
  await copy.click();
  await page.getByRole('button', { name: 'Copied' }).waitFor();
  check((await page.evaluate(() => navigator.clipboard.readText())) === key, 'the key was not copied');
  const id = key.slice(8, 20);
  const row = page.locator(`tr[data-key-id="${id}"]`);
  check((await row.innerText()).includes('browser-key'), 'the new key is not listed');
  check((await row.locator('.scope').allInnerTexts()).join(' ') === 'read write', 'scopes not listed');
  check((await row.locator('.rate').innerText()) === '5/s', 'the rate is not listed');
  check((await row.locator('svg.usage-chart').getAttribute('data-accepted')) === '0', 'no empty usage chart');
  await shoot(page, '1-key-created');
  const created = await whoami(key);
  check(created.status === 200, `whoami with the new key: ${created.status}`);
  for (let i = 1; i < USES; i += 1) {
    const again = await whoami(key);
    check(again.status === 200, `whoami with the new key: ${again.status}`);
  }

  // The CSP refuses an inline script injected into the page, and says so.
  await page.evaluate(() => {
    window.injectedRan = false;
    window.violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.violations.push(e.effectiveDirective));
    const script = document.createElement('script');
    script.textContent = 'window.injectedRan = true;';
    document.body.appendChild(script);
  });
  await page.waitForFunction(() => window.violations.length > 0);
  const injectedRan = await page.evaluate(() => window.injectedRan);
  const violations = await page.evaluate(() => window.violations);
  const cspConsole = consoleMessages.some((text) => text.includes('Content Security Policy'));

  // The key's usage chart shows the requests once the key store has written them: reload
  // until it does.
  const chart = page.locator(`tr[data-key-id="${id}"] svg.usage-chart`);
  const chartDeadline = Date.now() + CHART_WAIT_MS;
  let chartAccepted;
  do {
    await page.waitForTimeout(500);
    await page.goto(`${demo}/`);
    chartAccepted = await chart.getAttribute('data-accepted');
  } while (chartAccepted !== String(USES) && Date.now() < chartDeadline);
  const chartLabel = await chart.getAttribute('aria-label');
  const chartBars = await chart.locator('g').count();
  await shoot(page, '2-usage-chart');

  // Rotate with a one-hour grace period, from the confirmation page.
  check(!(await page.content()).includes(key), 'the key is shown a second time');
  await page.locator(`tr[data-key-id="${id}"] a`, { hasText: 'Rotate' }).click();
  await page.waitForURL(`${demo}/dashboard/keys/${id}/rotate`);
  await page.getByLabel('The old key keeps working').selectOption('1h');
  await shoot(page, '3-rotate-confirmation');
  await page.getByRole('button', { name: 'Rotate key' }).click();
  const rotated = (await page.locator('#new-key-value').innerText()).trim();
  check(rotated !== key && /^sk_live_/.test(rotated), 'no new key after rotation');
  check((await page.locator('#notice').innerText()).includes(`Key ${id} rotated`), 'no rotation notice');
  const rotatedId = rotated.slice(8, 20);
  check(
    (await page.locator(`tr[data-key-id="${id}"] .badge`).innerText()).includes('expiring'),
    'the old key is not shown as expiring',
  );
  await shoot(page, '4-key-rotated');
  const oldInGrace = await whoami(key);
  const newAfterRotation = await whoami(rotated);

  // Revoke the new key: the confirmation page first, then its form.
  await page.goto(`${demo}/`);
  await page.locator(`tr[data-key-id="${rotatedId}"] a`, { hasText: 'Revoke' }).click();
  await page.waitForURL(`${demo}/dashboard/keys/${rotatedId}/revoke`);
  check(await page.getByText('This cannot be undone').isVisible(), 'no confirmation text');
  await shoot(page, '5-revoke-confirmation');
  const beforeConfirm = await whoami(rotated);
  await page.getByRole('button', { name: 'Revoke key' }).click();
  check((await page.locator('#notice').innerText()).includes(`Key ${rotatedId} revoked`), 'no revocation notice');
  check(
    (await page.locator(`tr[data-key-id="${rotatedId}"] .badge`).innerText()).includes('revoked'),
    'row not revoked',
  );
  await shoot(page, '6-key-revoked');
  const afterRevoke = await whoami(rotated);

  console.log(JSON.stringify({
    created: id,
    rotated: rotatedId,
    whoami_created: created,
    chart_accepted: chartAccepted,
    chart_label: chartLabel,
    chart_bars: chartBars,
    whoami_old_in_grace: oldInGrace.status,
    whoami_rotated: newAfterRotation.status,
    whoami_before_confirm: beforeConfirm.status,
    whoami_after_revoke: afterRevoke.status,
    injected_script_ran: injectedRan,
    csp_violations: violations,
    csp_console_report: cspConsole,
    screenshots: shots,
  }));
} catch (error) {
  console.error(`dashboard test failed: ${error.message}`);
  if (page) {
    console.error(`at ${page.url()}: ${(await page.locator('body').innerText().catch(() => '')).slice(0, 2000)}`);
  }
  process.exitCode = 1;
} finally {
  if (context) {
    await context.close();
  }
  rmSync(userDataDir, { recursive: true, force: true });
}
