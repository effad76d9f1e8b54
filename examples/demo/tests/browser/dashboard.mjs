// Drives the demo dashboard in Debian's headless chromium through playwright-core:
// log in through the OpenID provider, create an API key, see it once, revoke it.
//
//   DEMO_URL=http://127.0.0.1:PORT REDIRECT_URI=https://app.example.test/oauth/op/callback \
//   SCREENSHOT=target/demo-dashboard.png node dashboard.mjs
//
// The provider redirects to its registered REDIRECT_URI; the script forwards that
// navigation to the demo's /oauth/oidc/callback with the same query (the demo sends
// REDIRECT_URI in its token request). Prints one JSON line on success; exits 1 otherwise.
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';

const demo = process.env.DEMO_URL;
const redirectUri = process.env.REDIRECT_URI;
const screenshot = process.env.SCREENSHOT;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!demo || !redirectUri || !screenshot) {
  console.error('DEMO_URL, REDIRECT_URI and SCREENSHOT are required');
  process.exit(2);
}

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

async function whoami(key) {
  const res = await fetch(`${demo}/api/whoami`, { headers: { 'x-api-key': key } });
  return res.status;
}

const userDataDir = mkdtempSync(join(tmpdir(), 'towerauth-demo-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1200, height: 800 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15000);
  await page.route(`${redirectUri}**`, (route) => {
    const query = new URL(route.request().url()).search;
    return route.fulfill({ status: 303, headers: { location: `${demo}/oauth/oidc/callback${query}` } });
  });

  await page.goto(`${demo}/`);
  await page.getByRole('link', { name: 'Log in with OpenID Connect' }).click();
  await page.waitForURL(`${demo}/`);
  check((await page.locator('header .who').innerText()).includes('oidc:alice'), 'not logged in as oidc:alice');

  await page.getByLabel('Name').fill('browser-key');
  await page.getByLabel('Scopes').fill('read');
  await page.getByRole('button', { name: 'Create key' }).click();
  const key = (await page.locator('#new-key-value').innerText()).trim();
  check(/^sk_live_[0-9A-Za-z]{61}$/.test(key), 'the new key is not shown');
  check(await page.getByText('shown only once').isVisible(), 'no copy hint');
  const id = key.slice(8, 20);
  const row = page.locator(`tr[data-key-id="${id}"]`);
  check((await row.innerText()).includes('browser-key'), 'the new key is not listed');
  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  const before = await whoami(key);

  await page.goto(`${demo}/`);
  check(!(await page.content()).includes(key), 'the key is shown a second time');
  await page.locator(`tr[data-key-id="${id}"] button`, { hasText: 'Revoke' }).click();
  check((await page.locator('#notice').innerText()).includes(`Key ${id} revoked`), 'no revocation notice');
  check((await page.locator(`tr[data-key-id="${id}"] .badge`).innerText()).includes('revoked'), 'row not revoked');
  const after = await whoami(key);

  console.log(JSON.stringify({ created: id, whoami_before: before, whoami_after: after, screenshot }));
} catch (error) {
  console.error(`dashboard test failed: ${error.message}`);
  process.exitCode = 1;
} finally {
  if (context) {
    await context.close();
  }
  rmSync(userDataDir, { recursive: true, force: true });
}
