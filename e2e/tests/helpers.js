// Shared setup for the browser tests: one Chromium per test file, a fresh context (its own
// cookies and storage) per person, screenshots, and small helpers for common steps.
//
// The app under test is at HAKOBU_E2E_URL (scripts/e2e.sh starts it on a fresh database).

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

export const BASE = process.env.HAKOBU_E2E_URL ?? 'http://127.0.0.1:8080';
const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');
mkdirSync(SCREENSHOTS, { recursive: true });

// Flags measured to work for Debian's Chromium on these machines (see TOOLCHAIN.md);
// playwright adds --headless and a fresh temporary profile (--user-data-dir) itself.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launch() {
  return chromium.launch({
    executablePath: process.env.HAKOBU_E2E_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/** A browser context for one person: English, Tokyo time, a laptop-sized window. */
export async function newPerson(browser, options = {}) {
  const context = await browser.newContext({
    baseURL: BASE,
    locale: 'en-US',
    timezoneId: 'Asia/Tokyo',
    viewport: { width: 1280, height: 860 },
    ...options,
  });
  const page = await context.newPage();
  // A panic or an uncaught error in the app fails the test that caused it.
  page.errors = [];
  page.on('pageerror', (e) => {
    page.errors.push(e);
    // Also on stderr at once, so a panic is seen even when a wait times out first.
    console.error(`page error: ${e.message}`);
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) {
      page.errors.push(new Error(m.text()));
      console.error(`console error: ${m.text()}`);
    }
  });
  return { context, page };
}

export function unique(prefix) {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export function uniqueEmail(prefix) {
  return `${unique(prefix)}@example.com`;
}

export const PASSWORD = 'correct horse battery staple';

export async function screenshot(page, name) {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Signs up through the form and waits for the dashboard. */
export async function signUp(page, { org, name, email, password = PASSWORD }) {
  await page.goto('/signup');
  await page.getByLabel('Organization name').fill(org);
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create an organization' }).click();
  await page.getByTestId('dashboard-org').filter({ hasText: org }).waitFor();
}

/** Signs in through the form and waits for the dashboard. */
export async function signIn(page, email, password = PASSWORD) {
  await page.goto('/signin');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('dashboard-org').waitFor();
}

/** Clicks an entry of the main navigation. */
export async function nav(page, name) {
  await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name, exact: true }).click();
}

/** Calls the API with the person's session cookie, failing the test on an error status. */
export async function api(page, method, url, data) {
  const response = await page.request.fetch(url, { method, data });
  const text = await response.text();
  if (!response.ok()) throw new Error(`${method} ${url}: ${response.status()} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Starts a run of `job` and polls it until it ends (a minute at most); answers the run. */
export async function runToEnd(page, job) {
  const run = await api(page, 'POST', `/api/jobs/${job}/runs`, {});
  for (let i = 0; i < 120; i += 1) {
    const now = await api(page, 'GET', `/api/runs/${run.id}`);
    if (['succeeded', 'failed', 'cancelled', 'timed_out'].includes(now.status)) return now;
    await page.waitForTimeout(500);
  }
  throw new Error(`run ${run.id} did not end`);
}
