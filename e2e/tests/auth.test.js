// Signing up, signing in, and form validation.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newPerson, signUp, uniqueEmail, unique, screenshot, PASSWORD } from './helpers.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a visitor is sent to sign in, signs up, and the dashboard shows the organization', async () => {
  const { context, page } = await newPerson(browser);
  await page.goto('/');
  await page.waitForURL('**/signin');
  await page.getByRole('heading', { name: 'Sign in to Hakobu' }).waitFor();
  await screenshot(page, 'signin');

  await page.getByRole('link', { name: 'Create an organization' }).click();
  await page.waitForURL('**/signup');
  await screenshot(page, 'signup');

  const org = unique('Acme Analytics');
  await signUp(page, { org, name: 'Ana Owner', email: uniqueEmail('ana') });
  assert.equal(new URL(page.url()).pathname, '/');
  assert.equal(await page.getByTestId('org-name').textContent(), org);
  assert.match(await page.locator('main').innerText(), /Welcome, Ana Owner\./);
  // Nothing has run yet: the dashboard says so, and each transfer page has its empty state.
  await page.getByText('No runs yet').waitFor();
  await screenshot(page, 'dashboard');
  for (const [name, empty] of [['Connections', 'No connections yet'], ['Jobs', 'No jobs yet'], ['Runs', 'No runs yet']]) {
    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name, exact: true }).click();
    await page.getByRole('heading', { level: 1, name }).waitFor();
    await page.getByText(empty).waitFor();
    await screenshot(page, `${name.toLowerCase()}-empty-state`);
  }
  // An unknown address gets a plain "not found" page, not a blank one.
  await page.goto('/no/such/page');
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  await screenshot(page, 'not-found');

  // Narrow screen: the same dashboard, navigation on top.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/');
  await page.getByTestId('dashboard-org').waitFor();
  await screenshot(page, 'dashboard-narrow');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('invalid fields are flagged before submit, and no request is sent', async () => {
  const { context, page } = await newPerson(browser);
  const sent = [];
  page.on('request', (r) => { if (r.url().includes('/api/auth/signup')) sent.push(r.url()); });
  await page.goto('/signup');
  await page.getByLabel('Organization name').fill('Acme');
  await page.getByLabel('Your name').fill('Ana');
  await page.getByLabel('Email').fill('ana.example.com');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create an organization' }).click();

  const emailError = page.locator('#signup-email-error');
  const passwordError = page.locator('#signup-password-error');
  await emailError.waitFor();
  assert.equal(await emailError.textContent(), 'Email must be an email address such as name@example.com');
  assert.equal(await passwordError.textContent(), 'Password must be at least 10 characters long');
  assert.equal(await page.getByLabel('Email').getAttribute('aria-invalid'), 'true');
  // Focus moves to the first field to fix.
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'signup-email');
  await screenshot(page, 'signup-invalid');
  // Give a stray request time to show up before asserting there was none.
  await page.waitForTimeout(300);
  assert.deepEqual(sent, []);

  // Fixing the fields clears the errors on the next submit.
  await page.getByLabel('Email').fill(uniqueEmail('fixed'));
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create an organization' }).click();
  await page.getByTestId('dashboard-org').waitFor();
  assert.equal(sent.length, 1);
  await context.close();
});

test('a wrong password shows the plain message beside the form', async () => {
  const { context, page } = await newPerson(browser);
  const email = uniqueEmail('bo');
  await signUp(page, { org: unique('Bo Co'), name: 'Bo', email });
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL('**/signin');

  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('not the password at all');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.equal(await alert.textContent(), 'The email or password is wrong.');
  await screenshot(page, 'signin-wrong-password');

  // And the right one gets in, with the keyboard only: type, Tab, type, Enter.
  await page.getByLabel('Email').focus();
  await page.keyboard.press('Control+A');
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  await page.keyboard.press('Control+A');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await page.getByTestId('dashboard-org').waitFor();
  await context.close();
});
