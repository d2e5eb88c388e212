// The admin pages one by one: a team's page, API tokens, the audit log, the account.
// Each step saves a screenshot for review.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newPerson, signUp, nav, uniqueEmail, unique, screenshot, PASSWORD } from './helpers.js';

let browser;
let person;
before(async () => {
  browser = await launch();
  person = await newPerson(browser);
  await signUp(person.page, { org: unique('Pages Co'), name: 'Pat Owner', email: uniqueEmail('pat') });
});
after(async () => {
  assert.deepEqual(person?.page.errors ?? [], []);
  await browser?.close();
});

test('a team page: rename, members and their roles, delete with confirmation', async () => {
  const { page } = person;
  await nav(page, 'Teams');
  await page.getByLabel('Team name').fill('Marketing');
  await page.getByRole('button', { name: 'Create a team' }).click();
  await page.getByRole('link', { name: 'Marketing', exact: true }).waitFor();
  // A duplicate name comes back from the server and lands beside the field.
  await page.getByLabel('Team name').fill('Marketing');
  await page.getByRole('button', { name: 'Create a team' }).click();
  await page.getByText('A team with this name already exists.').waitFor();

  await page.getByRole('link', { name: 'Marketing', exact: true }).click();
  await page.getByRole('heading', { name: 'Marketing' }).waitFor();
  // The owner adds themself as an editor.
  await page.getByLabel('Member', { exact: true }).selectOption({ label: await page.locator('#add-member-user option').nth(1).innerText() });
  await page.getByLabel('Team role', { exact: true }).selectOption('editor');
  await page.getByRole('button', { name: 'Add to team' }).click();
  await page.getByTestId('team-member-row').filter({ hasText: 'Pat Owner' }).waitFor();
  await screenshot(page, 'team');

  // Rename.
  await page.locator('#rename-name').fill('Growth');
  await page.getByRole('button', { name: 'Rename' }).click();
  await page.getByRole('heading', { name: 'Growth' }).waitFor();

  // Delete asks first; Cancel keeps the team.
  await page.getByRole('button', { name: 'Delete the team' }).click();
  await page.getByText('Delete the team Growth? This cannot be undone.').waitFor();
  await screenshot(page, 'team-confirm-delete');
  // Focus lands on the safe choice, and Escape backs out (keyboard users).
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel');
  await page.keyboard.press('Escape');
  await page.getByRole('button', { name: 'Delete the team' }).waitFor();
  await page.getByRole('button', { name: 'Delete the team' }).click();
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('button', { name: 'Delete the team' }).click();
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.waitForURL('**/teams');
  await page.getByTestId('team-row').first().waitFor();
  assert.equal(await page.getByRole('link', { name: 'Growth', exact: true }).count(), 0);
});

test('API tokens: validated, shown once, listed, revoked', async () => {
  const { page } = person;
  await nav(page, 'API tokens');
  await page.getByText('No tokens yet').waitFor();
  await page.getByLabel('What is it for?').fill('nightly export');
  await page.getByLabel('Expires after (days)').fill('0');
  await page.getByRole('button', { name: 'Create a token' }).click();
  assert.equal(
    await page.locator('#token-expires_in_days-error').textContent(),
    'Expires after (days) must be a number of days from 1 to 3650',
  );
  await page.getByLabel('Expires after (days)').fill('30');
  await page.getByRole('button', { name: 'Create a token' }).click();
  const shown = page.locator('#new-token-value');
  await shown.waitFor();
  const token = await shown.inputValue();
  assert.match(token, /^hkb_/);
  const row = page.getByTestId('token-row').filter({ hasText: 'nightly export' });
  await row.waitFor();
  assert.match(await row.innerText(), /Active/);
  await screenshot(page, 'tokens');

  // The token works against the API, then stops working once revoked.
  const me = await page.request.get('/api/me', { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(me.status(), 200);
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByRole('button', { name: 'Revoke' }).click();
  await page.getByTestId('token-row').filter({ hasText: 'Revoked' }).waitFor();
  const after = await page.request.get('/api/me', { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(after.status(), 401);

  // A read-only token: listed as such, it reads but cannot change anything.
  await page.getByLabel('What is it for?').fill('dashboard');
  await page.getByLabel('Access').selectOption('read_only');
  await page.getByRole('button', { name: 'Create a token' }).click();
  await page.getByTestId('token-row').filter({ hasText: 'dashboard' }).filter({ hasText: 'Read-only' }).waitFor();
  const readOnly = await page.locator('#new-token-value').inputValue();
  const looks = await page.request.get('/api/me', { headers: { Authorization: `Bearer ${readOnly}` } });
  assert.equal(looks.status(), 200);
  const changes = await page.request.post('/api/teams', {
    headers: { Authorization: `Bearer ${readOnly}` },
    data: { name: 'Not allowed' },
  });
  assert.equal(changes.status(), 403);
  assert.equal((await changes.json()).code, 'read_only_token');
});

test('the audit log lists changes, filters them and exports CSV', async () => {
  const { page } = person;
  await nav(page, 'Audit log');
  await page.getByTestId('audit-row').first().waitFor();
  assert.match(await page.locator('.pager').innerText(), /^Previous\s+Page 1 of 1 \(\d+ entries\)\s+Next$/);
  // Details read as changes, not JSON.
  await page.getByText('name: Marketing → Growth').waitFor();
  await screenshot(page, 'audit');
  await page.getByLabel('Action', { exact: true }).fill('team');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.waitForFunction(() =>
    [...document.querySelectorAll('[data-testid=audit-row] td:nth-child(3) code')].every((td) => td.innerText.startsWith('team')));
  const actions = await page.locator('[data-testid=audit-row] td:nth-child(3) code').allInnerTexts();
  assert.ok(actions.includes('team.create') && actions.includes('team.delete'), actions.join(','));
  // Actions read as words, with the code below for the filter.
  await page.getByText('Deleted a team').waitFor();
  const href = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
  assert.equal(href, '/api/audit.csv?action=team');
  const csv = await page.request.get(href);
  assert.equal(csv.status(), 200);
  assert.match(await csv.text(), /^time,actor_email/);
  await screenshot(page, 'audit-filtered');

  // A time range after everything that happened shows the empty state, and Clear brings
  // the entries back. (The range is typed in the user's zone.)
  const tomorrow = new Date(Date.now() + 36 * 3600 * 1000).toISOString().slice(0, 16);
  await page.getByLabel('From', { exact: true }).fill(tomorrow);
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.getByText('Nothing matches').waitFor();
  await page.getByRole('button', { name: 'Clear' }).click();
  await page.getByTestId('audit-row').first().waitFor();
});

test('renaming the organization updates the top bar', async () => {
  const { page } = person;
  await nav(page, 'Members');
  const renamed = unique('Renamed Co');
  await page.locator('#organization-name').fill(renamed);
  await page.getByRole('button', { name: 'Rename' }).click();
  await page.getByText('Saved.').waitFor();
  await page.getByTestId('org-name').filter({ hasText: renamed }).waitFor();
});

test('account: the password change checks the current password', async () => {
  const { page } = person;
  await nav(page, 'Account');
  await page.getByLabel('Current password').fill('not my password');
  await page.getByLabel('New password').fill('a brand new passphrase');
  await page.getByRole('button', { name: 'Change password' }).click();
  assert.equal(
    await page.locator('#password-current_password-error').textContent(),
    'Current password is not your current password',
  );
  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('Your password was changed.').waitFor();
  await screenshot(page, 'account');
});
