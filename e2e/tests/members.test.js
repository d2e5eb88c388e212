// Inviting a member, who joins in another browser, sees only their teams, and gains the
// admin's actions once an admin raises their role.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newPerson, signUp, nav, uniqueEmail, unique, screenshot, PASSWORD } from './helpers.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function createTeam(page, name) {
  await nav(page, 'Teams');
  await page.getByLabel('Team name').fill(name);
  await page.getByRole('button', { name: 'Create a team' }).click();
  await page.getByRole('link', { name, exact: true }).waitFor();
}

test('invite -> accept in a second browser -> only their teams -> promoted to admin -> admin actions appear', async () => {
  // The owner sets up two teams.
  const owner = await newPerson(browser);
  const org = unique('Invite Co');
  await signUp(owner.page, { org, name: 'Olga Owner', email: uniqueEmail('olga') });
  await createTeam(owner.page, 'Sales');
  await createTeam(owner.page, 'Finance');
  await screenshot(owner.page, 'teams');

  // ... and invites a member into Sales only, as an operator.
  const email = uniqueEmail('mia');
  await nav(owner.page, 'Members');
  await owner.page.locator('#invite-email').fill(email);
  await owner.page.getByLabel('Organization role').selectOption('member');
  await owner.page.getByLabel('Sales', { exact: true }).check();
  await owner.page.getByLabel('Role in Sales').selectOption('operator');
  await owner.page.getByRole('button', { name: 'Create invitation link' }).click();
  const link = owner.page.locator('#invite-link-value');
  await link.waitFor();
  const inviteUrl = await link.inputValue();
  assert.match(inviteUrl, /\/invite\/[^/]+$/);
  await owner.page.getByTestId('invitation-row').filter({ hasText: email }).waitFor();
  assert.match(await owner.page.getByTestId('invitation-row').filter({ hasText: email }).innerText(), /Sales \(Operator\)/);
  await screenshot(owner.page, 'members-invited');

  // The invitee opens the link in their own browser.
  const mia = await newPerson(browser);
  await mia.page.goto(inviteUrl);
  await mia.page.getByTestId('invite-email').filter({ hasText: email }).waitFor();
  assert.equal(await mia.page.getByTestId('invite-org').textContent(), org);
  await screenshot(mia.page, 'accept-invitation');
  // Too short a password is caught before anything is sent.
  await mia.page.getByLabel('Your name').fill('Mia Member');
  await mia.page.getByLabel('Choose a password').fill('short');
  await mia.page.getByRole('button', { name: 'Create my account' }).click();
  await mia.page.locator('#accept-password-error').waitFor();
  await mia.page.getByLabel('Choose a password').fill(PASSWORD);
  await mia.page.getByRole('button', { name: 'Create my account' }).click();
  await mia.page.getByTestId('dashboard-org').filter({ hasText: org }).waitFor();

  // Signed out and in again, she sees only Sales, and no admin-only things.
  await mia.page.getByRole('button', { name: 'Sign out' }).click();
  await mia.page.waitForURL('**/signin');
  await mia.page.getByLabel('Email').fill(email);
  await mia.page.getByLabel('Password').fill(PASSWORD);
  await mia.page.getByRole('button', { name: 'Sign in' }).click();
  await mia.page.getByTestId('dashboard-org').waitFor();
  const yourTeams = await mia.page.locator('section', { hasText: 'Your teams' }).innerText();
  assert.match(yourTeams, /Sales/);
  assert.doesNotMatch(yourTeams, /Finance/);
  await nav(mia.page, 'Teams');
  await mia.page.getByTestId('team-row').first().waitFor();
  const rows = await mia.page.getByTestId('team-row').allInnerTexts();
  assert.equal(rows.length, 1);
  assert.match(rows[0], /Sales/);
  assert.match(rows[0], /Operator/);
  await mia.page.getByText('Only organization admins and owners can create teams.').waitFor();
  await screenshot(mia.page, 'teams-as-member');

  await nav(mia.page, 'Members');
  await mia.page.getByText('Only organization admins and owners can invite members.').waitFor();
  assert.equal(await mia.page.locator('#invite-email').count(), 0);
  assert.equal(await mia.page.getByRole('link', { name: 'Audit log' }).count(), 0);
  await screenshot(mia.page, 'members-as-member');

  // The owner raises her to admin, confirming the change.
  await owner.page.reload();
  const row = owner.page.getByTestId('member-row').filter({ hasText: email });
  await row.getByLabel('Role of Mia Member').selectOption('admin');
  await row.getByRole('button', { name: 'Change role' }).click();
  await row.getByText('Change Mia Member from Member to Admin?').waitFor();
  await screenshot(owner.page, 'members-confirm-role');
  await row.getByRole('button', { name: 'Change role' }).click();
  await owner.page.getByTestId('member-row').filter({ hasText: email }).getByLabel('Role of Mia Member').waitFor();
  await owner.page.waitForFunction(
    (e) => [...document.querySelectorAll('[data-testid=member-row]')].find((r) => r.dataset.email === e)?.querySelector('select')?.value === 'admin',
    email,
  );

  // On her next navigation the invite form and the audit log appear.
  await nav(mia.page, 'Dashboard');
  await nav(mia.page, 'Members');
  await mia.page.locator('#invite-email').waitFor();
  await mia.page.getByRole('link', { name: 'Audit log' }).waitFor();
  await screenshot(mia.page, 'members-as-admin');
  // She can now see every team, Finance included.
  await nav(mia.page, 'Teams');
  await mia.page.getByRole('link', { name: 'Finance', exact: true }).waitFor();

  assert.deepEqual(owner.page.errors, []);
  assert.deepEqual(mia.page.errors, []);
  await owner.context.close();
  await mia.context.close();
});
