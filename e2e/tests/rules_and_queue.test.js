// The organization's default rules with a message template and Slack mentions (a bad
// mention is flagged before sending, a template that does not render comes back from the
// server beside its box), and the queue page refreshing itself without the button.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newPerson, signUp, nav, uniqueEmail, unique, screenshot } from './helpers.js';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function api(page, method, url, data) {
  const response = await page.request.fetch(url, { method, data });
  const text = await response.text();
  assert.ok(response.ok(), `${method} ${url}: ${response.status()} ${text}`);
  return text ? JSON.parse(text) : null;
}

test('a default rule with a template and Slack mentions: errors beside their boxes, then saved', async () => {
  const { context, page } = await newPerson(browser);
  await signUp(page, { org: unique('Rules Co'), name: 'Olga Owner', email: uniqueEmail('olga') });
  // Never contacted: the rule is only saved.
  await api(page, 'POST', '/api/notification-destinations', {
    name: '#alerts', settings: { kind: 'slack', webhook_url: 'https://hooks.slack.example/services/T0/B0/x' },
  });
  await nav(page, 'Notifications');
  const rules = page.locator('section', { hasText: 'Default rules of the organization' });
  await rules.getByText('No default rules').waitFor();
  await rules.getByText('{{ variables.NAME }} or $NAME$', { exact: false }).waitFor();

  // A mention that is not a Slack id: flagged beside the box, nothing sent.
  await rules.getByLabel('Message (optional)').fill('{{ job_name }} failed: {{ error }}');
  await rules.getByLabel('Slack mentions (optional)').fill('@here, bob');
  await rules.getByRole('button', { name: 'Add the rule' }).click();
  assert.match(await page.locator('#rule-mentions-error').textContent(), /must be a Slack member or group id/);
  assert.equal((await api(page, 'GET', '/api/notification-rules')).length, 0);

  // A template the server cannot render: its message beside the template box.
  await rules.getByLabel('Slack mentions (optional)').fill('@here, U024BE7LH');
  await rules.getByLabel('Message (optional)').fill('{{ job_name ');
  await rules.getByRole('button', { name: 'Add the rule' }).click();
  await page.locator('#rule-template-error').filter({ hasText: 'cannot be rendered' }).waitFor();
  assert.equal(await page.locator('#rule-template').getAttribute('aria-invalid'), 'true');
  await screenshot(page, 'default-rule-template-error');

  await rules.getByLabel('Message (optional)').fill('{{ job_name }} {{ status }} ($$5 budget)');
  await rules.getByRole('button', { name: 'Add the rule' }).click();
  await rules.getByTestId('rule-row').waitFor();
  const [saved] = await api(page, 'GET', '/api/notification-rules');
  assert.equal(saved.template, '{{ job_name }} {{ status }} ($$5 budget)');
  assert.deepEqual(saved.mentions, ['here', 'U024BE7LH']);
  // The form is empty again for the next rule.
  assert.equal(await rules.getByLabel('Message (optional)').inputValue(), '');

  assert.deepEqual(page.errors, []);
  await context.close();
});

test('the queue page refreshes itself every few seconds', async () => {
  const { context, page } = await newPerson(browser);
  await signUp(page, { org: unique('Queue Co'), name: 'Olga Owner', email: uniqueEmail('olga') });
  await nav(page, 'Queue');
  const limit = page.getByTestId('concurrency-limit');
  await limit.filter({ hasText: "The service's ceiling applies" }).waitFor();
  await page.getByText('Refreshes by itself every 5 seconds while this page is open.').waitFor();
  // Changed elsewhere (here: the API); the page shows it without pressing Refresh.
  await api(page, 'PUT', '/api/organization/concurrency', { max_concurrent_runs: 2 });
  await limit.filter({ hasText: 'This organization runs at most 2 at once' }).waitFor({ timeout: 12_000 });
  // Leaving the page stops the polling: no more queue requests after navigating away.
  let queueRequests = 0;
  page.on('request', (r) => { if (new URL(r.url()).pathname === '/api/queue') queueRequests += 1; });
  await nav(page, 'Dashboard');
  await page.getByTestId('dashboard-org').waitFor();
  await page.waitForTimeout(11_000);
  assert.equal(queueRequests, 0);

  assert.deepEqual(page.errors, []);
  await context.close();
});
