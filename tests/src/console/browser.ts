import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium (`apt-get install chromium`; `.ci/run` installs it). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: the browser tests need Debian's chromium (apt-get install -y chromium; .ci/run installs it)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    timeout: 30_000,
  });
}

/**
 * A new tab on a gateway's operator page (`http://127.0.0.1:<adminPort>/`), signed in with the
 * admin token through its login form; `errors` collects the page's uncaught errors.
 */
export async function openOperatorPage(browser: Browser, adminPort: number, token: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  await page.goto(`http://127.0.0.1:${adminPort}/`);
  await page.waitForSelector('[data-testid="login"]:not([hidden])');
  await page.fill('[data-testid="token"]', token);
  await page.click('[data-testid="login-submit"]');
  return { page, errors };
}
