// The job page for each role: an operator gets no "not allowed" error where revisions would
// be (the page does not ask for them, and says why), and reads the notification rules
// without the editor; an editor adds, changes and deletes the job's rules there, with
// errors beside their fields. A backfill takes a value for the job's variable. The
// organization's default rule asks for an email subject only for an email destination.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { launch, newPerson, signUp, uniqueEmail, unique, screenshot, nav, PASSWORD } from './helpers.js';

const PG = process.env.HAKOBU_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const PG_URL = new URL(PG);
const SOURCE_DB = `hakobu_e2e_jobpage_${unique('x').slice(2)}`;

function psql(db, sql) {
  return execFileSync('psql', [`${PG}/${db}`, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' }).trim();
}

let browser;
before(async () => {
  psql('postgres', `CREATE DATABASE "${SOURCE_DB}"`);
  psql(SOURCE_DB, "CREATE TABLE src (id bigint PRIMARY KEY, name text); INSERT INTO src VALUES (1, 'one')");
  browser = await launch();
});
after(async () => {
  await browser?.close();
  psql('postgres', `DROP DATABASE IF EXISTS "${SOURCE_DB}" WITH (FORCE)`);
});

/** Calls the API with the person's session cookie, failing the test on an error status. */
async function api(page, method, url, data) {
  const response = await page.request.fetch(url, { method, data });
  const text = await response.text();
  assert.ok(response.ok(), `${method} ${url}: ${response.status()} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** An organization with a job (one `$region$` variable) and a member of its team at `role`. */
async function setUp(role) {
  const owner = await newPerson(browser);
  await signUp(owner.page, { org: unique('Job Page Co'), name: 'Olga Owner', email: uniqueEmail('olga') });
  const team = (await api(owner.page, 'GET', '/api/me')).teams[0].team_id;
  const connection = await api(owner.page, 'POST', '/api/connections', {
    name: 'Warehouse', kind: 'postgresql', team_id: team,
    settings: {
      host: PG_URL.hostname, port: Number(PG_URL.port || 5432), database: SOURCE_DB,
      user: decodeURIComponent(PG_URL.username || 'postgres'), tls_mode: 'disable',
    },
  });
  const job = await api(owner.page, 'POST', '/api/jobs', {
    name: unique('Nightly orders'), team_id: team,
    settings: {
      source: { connection_id: connection.id, table: { name: 'src' } },
      destination: { connection_id: connection.id, table: { name: 'dst' }, mode: 'insert' },
      variables: [{ name: 'region', value: { kind: 'string', value: 'eu' } }],
    },
  });
  const invitation = await api(owner.page, 'POST', '/api/invitations', {
    email: uniqueEmail(role), org_role: 'member', teams: [{ team_id: team, role }],
  });
  const member = await newPerson(browser);
  await api(member.page, 'POST', '/api/invitations/accept', {
    token: invitation.invite_url.split('/').pop(), name: `Member ${role}`, password: PASSWORD,
  });
  return { owner, member, job };
}

test("an operator's job page: no revisions error, rules read-only with the reason", async () => {
  const { owner, member, job } = await setUp('operator');
  await api(owner.page, 'POST', '/api/notification-destinations', {
    name: '#alerts', settings: { kind: 'slack', webhook_url: 'https://hooks.slack.example/services/T0/B0/x' },
  });
  const [alerts] = await api(owner.page, 'GET', '/api/notification-destinations');
  await api(owner.page, 'POST', `/api/jobs/${job.id}/notification-rules`, { destination_id: alerts.id, event: 'failure' });

  const { page } = member;
  const refused = [];
  page.on('response', (r) => { if (r.status() === 403) refused.push(r.url()); });
  const asked = [];
  page.on('request', (r) => { if (new URL(r.url()).pathname.endsWith('/revisions')) asked.push(r.url()); });
  await page.goto(`/jobs/${job.id}`);
  await page.getByRole('heading', { name: job.name }).waitFor();
  await page.getByTestId('revisions-not-allowed')
    .filter({ hasText: "Only editors of the job's team see its revisions." }).waitFor();
  const rules = page.getByTestId('job-rules-panel');
  await rules.getByTestId('job-rule').filter({ hasText: 'a run fails (no retry left)' }).filter({ hasText: '#alerts' }).waitFor();
  await rules.getByText("Only editors of the job's team can change its notification rules.").waitFor();
  assert.equal(await rules.getByRole('button', { name: 'Change notification rules' }).count(), 0);
  await page.getByText('No runs yet').waitFor();
  await screenshot(page, 'job-page-operator');
  assert.deepEqual(asked, [], 'the page does not ask for what the server refuses');
  assert.deepEqual(refused, []);
  assert.equal(await page.locator('.load-error').count(), 0);
  // The server agrees: this is the request the page no longer makes.
  assert.equal((await page.request.get(`/api/jobs/${job.id}/revisions`)).status(), 403);

  assert.deepEqual(page.errors, []);
  await member.context.close();
  await owner.context.close();
});

test('an editor adds, changes and deletes rules on the job page; a backfill takes a value per variable', async () => {
  const { owner, member, job } = await setUp('editor');
  await api(owner.page, 'POST', '/api/notification-destinations', {
    name: '#alerts', settings: { kind: 'slack', webhook_url: 'https://hooks.slack.example/services/T0/B0/x' },
  });
  await api(owner.page, 'POST', '/api/notification-destinations', {
    name: 'Data team', settings: { kind: 'email', address: uniqueEmail('data') },
  });

  const { page } = member;
  await page.goto(`/jobs/${job.id}`);
  const panel = page.getByTestId('job-rules-panel');
  await panel.getByText('This job has no notification rules of its own.').waitFor();
  // Revisions are there for an editor.
  await page.getByTestId('revisions').waitFor();

  // A rows rule without its threshold: stopped beside the field, nothing sent.
  let posted = 0;
  page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/notification-rules')) posted += 1; });
  await panel.getByRole('button', { name: 'Change notification rules' }).click();
  await panel.getByRole('button', { name: 'Add a notification rule' }).click();
  await page.locator('#jobrules-rules-0--destination_id').selectOption({ label: '#alerts (slack)' });
  // Only email has a subject.
  assert.equal(await panel.getByLabel('Email subject (optional)').count(), 0);
  await page.locator('#jobrules-rules-0--event').selectOption({ label: 'a run writes fewer rows than the threshold' });
  await panel.getByRole('button', { name: 'Save notification rules' }).click();
  await page.locator('#jobrules-rules-0--threshold-error').filter({ hasText: 'is required' }).waitFor();
  assert.equal(posted, 0);
  await page.locator('#jobrules-rules-0--threshold').fill('10');
  await panel.getByRole('button', { name: 'Save notification rules' }).click();
  // Saved: the editor closes and the list shows the rule.
  await panel.getByTestId('job-rule').filter({ hasText: 'a run writes fewer rows than the threshold (10 rows)' })
    .filter({ hasText: '#alerts' }).waitFor();
  assert.equal(await page.getByTestId('job-rules-form').count(), 0);
  await screenshot(page, 'job-page-rule-added');
  let [saved] = await api(page, 'GET', `/api/jobs/${job.id}/notification-rules`);
  assert.equal(saved.threshold, 10);
  assert.equal(posted, 1);

  // Changed to the email destination: the subject box appears; one the server cannot
  // render comes back beside it.
  await panel.getByRole('button', { name: 'Change notification rules' }).click();
  await page.locator('#jobrules-rules-0--destination_id').selectOption({ label: 'Data team (email)' });
  await panel.getByLabel('Email subject (optional)').fill('{{ job_name ');
  await panel.getByRole('button', { name: 'Save notification rules' }).click();
  await page.locator('#jobrules-rules-0--subject-error').filter({ hasText: 'cannot be rendered' }).waitFor();
  await panel.getByLabel('Email subject (optional)').fill('{{ job_name }}: few rows');
  await panel.getByRole('button', { name: 'Save notification rules' }).click();
  await panel.getByTestId('job-rule').filter({ hasText: 'Data team' }).waitFor();
  [saved] = await api(page, 'GET', `/api/jobs/${job.id}/notification-rules`);
  assert.equal(saved.subject, '{{ job_name }}: few rows');
  assert.equal(posted, 1, 'a change is a PUT, not a second rule');

  // Removed and saved: gone from the page and the API.
  await panel.getByRole('button', { name: 'Change notification rules' }).click();
  await panel.getByRole('button', { name: 'Remove this rule' }).click();
  await panel.getByRole('button', { name: 'Save notification rules' }).click();
  await panel.getByText('This job has no notification rules of its own.').waitFor();
  assert.deepEqual(await api(page, 'GET', `/api/jobs/${job.id}/notification-rules`), []);

  // A backfill with a value for $region$, sent with the request.
  await page.getByRole('button', { name: /Backfill/ }).click();
  const backfill = page.getByTestId('backfill');
  await backfill.getByLabel('From (first period)').fill('2026-11-02T00:00');
  await backfill.getByLabel('To (last period, included)').fill('2026-11-02T00:00');
  await backfill.getByLabel('$region$').fill('asia');
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith('/backfill') && r.method() === 'POST'),
    backfill.getByRole('button', { name: 'Queue the runs' }).click(),
  ]);
  assert.deepEqual(request.postDataJSON().variables, { region: 'asia' });
  await page.getByTestId('backfill-queued').filter({ hasText: /1 runs? queued\./ }).waitFor();
  await screenshot(page, 'job-page-backfill-values');

  assert.deepEqual(page.errors, []);
  await member.context.close();
  await owner.context.close();
});

test("the organization's default rule asks for an email subject only for an email destination", async () => {
  const { context, page } = await newPerson(browser);
  await signUp(page, { org: unique('Subject Co'), name: 'Olga Owner', email: uniqueEmail('olga') });
  await api(page, 'POST', '/api/notification-destinations', {
    name: '#alerts', settings: { kind: 'slack', webhook_url: 'https://hooks.slack.example/services/T0/B0/x' },
  });
  await api(page, 'POST', '/api/notification-destinations', {
    name: 'Data team', settings: { kind: 'email', address: uniqueEmail('data') },
  });
  await nav(page, 'Notifications');
  const rules = page.locator('section', { hasText: 'Default rules of the organization' });
  await rules.getByTestId('rule-form').waitFor();
  await rules.getByLabel('Send to').selectOption({ label: '#alerts' });
  assert.equal(await rules.getByLabel('Email subject (optional)').count(), 0);
  await rules.getByLabel('Send to').selectOption({ label: 'Data team' });
  await rules.getByLabel('Email subject (optional)').fill('{{ job_name }} {{ status }}');
  await rules.getByRole('button', { name: 'Add the rule' }).click();
  await rules.getByTestId('rule-row').waitFor();
  const [saved] = await api(page, 'GET', '/api/notification-rules');
  assert.equal(saved.subject, '{{ job_name }} {{ status }}');
  await screenshot(page, 'default-rule-subject');

  assert.deepEqual(page.errors, []);
  await context.close();
});
