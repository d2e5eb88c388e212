// The S3 form's authentication: a new organization is offered an access key or a role of
// its own AWS account (never the service's own role, which the e2e server leaves off); the
// role's ARN field replaces the key fields and the form shows the external id to require in
// the role's trust policy, the organization's id; a wrong ARN is refused at its field.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newPerson, signUp, uniqueEmail, unique, screenshot, nav } from './helpers.js';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('an S3 connection assumes a role of the tenant, and the form shows the external id', async () => {
  const { context, page } = await newPerson(browser);
  await signUp(page, { org: unique('Roles Co'), name: 'Rita Role', email: uniqueEmail('rita') });
  const me = await (await page.request.get('/api/me')).json();
  await nav(page, 'Connections');
  await page.getByRole('link', { name: 'New connection' }).click();
  await page.getByLabel('Kind').selectOption('s3');
  await page.getByLabel('Connection name').fill('Exports bucket');
  await page.getByLabel('Bucket').fill('exports-bucket');

  const auth = page.getByLabel('Authentication');
  const offered = await auth.locator('option').evaluateAll((options) => options.map((o) => o.value));
  assert.deepEqual(offered, ['access_key', 'assume_role'], 'the service\'s own role is not offered');
  assert.equal(await page.getByLabel('Access key ID').count(), 1);
  assert.equal(await page.getByLabel('Role ARN').count(), 0);
  assert.equal(await page.getByTestId('external-id').count(), 0);

  await auth.selectOption('assume_role');
  await page.getByLabel('Role ARN').waitFor();
  assert.equal(await page.getByLabel('Access key ID').count(), 0, 'the key pair is not asked for a role');
  const externalId = page.getByTestId('external-id');
  assert.match(await externalId.innerText(), new RegExp(me.organization_id));
  await screenshot(page, 'connection-s3-assume-role');

  await page.getByLabel('Role ARN').fill('arn:aws:iam::12345:role/reader');
  await page.getByRole('button', { name: 'Save connection' }).click();
  const field = page.locator('.field', { has: page.getByLabel('Role ARN') });
  await field.locator('.field-error').waitFor();
  assert.match(await field.locator('.field-error').innerText(), /arn:aws:iam::<12-digit account id>:role\/<name>/);

  await page.getByLabel('Role ARN').fill('arn:aws:iam::123456789012:role/hakobu-reader');
  await page.getByRole('button', { name: 'Save connection' }).click();
  await page.waitForURL(/\/connections\/[0-9a-f-]{36}\?created=1$/);
  const id = page.url().match(/connections\/([0-9a-f-]{36})/)[1];
  const saved = await (await page.request.get(`/api/connections/${id}`)).json();
  assert.equal(saved.settings.auth, 'assume_role');
  assert.equal(saved.settings.role_arn, 'arn:aws:iam::123456789012:role/hakobu-reader');
  assert.equal(saved.settings.access_key_id, undefined);
  // The saved connection's page shows the role and the external id again.
  await page.getByTestId('external-id').waitFor();
  assert.deepEqual(page.errors, []);
  await context.close();
});
