// Sharing a job with another team from the job page: a member of that team then sees the
// job and may run it but not change it (the share caps them at operator even though they
// are an editor of their own team); once un-shared, the job is gone for them. Also: the team
// page lists the job shared with the team, and only the owning team's admins get the form.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { launch, newPerson, signUp, nav, uniqueEmail, unique, screenshot, PASSWORD } from './helpers.js';

const PG = process.env.HAKOBU_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const PG_URL = new URL(PG);
const SOURCE_DB = `hakobu_e2e_sharing_${unique('x').slice(2)}`;

function psql(db, sql) {
  return execFileSync('psql', [`${PG}/${db}`, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' }).trim();
}

let browser;
before(async () => {
  psql('postgres', `CREATE DATABASE "${SOURCE_DB}"`);
  psql(SOURCE_DB, "CREATE TABLE src (id bigint PRIMARY KEY, name text); INSERT INTO src VALUES (1, 'one'), (2, 'two')");
  browser = await launch();
});
after(async () => {
  await browser?.close();
  psql('postgres', `DROP DATABASE IF EXISTS "${SOURCE_DB}" WITH (FORCE)`);
});

/** Calls the API with the person's session cookie; answers the status and the body. */
async function call(page, method, url, data) {
  const response = await page.request.fetch(url, { method, data });
  const text = await response.text();
  let body = text || null;
  try { body = text ? JSON.parse(text) : null; } catch { /* not JSON: keep the text for the message */ }
  return { status: response.status(), body };
}

/** `call`, failing the test on an error status. */
async function api(page, method, url, data) {
  const { status, body } = await call(page, method, url, data);
  assert.ok(status < 400, `${method} ${url}: ${status} ${JSON.stringify(body)}`);
  return body;
}

test('a job shared with another team as operator: its members run it but cannot change it; un-shared, it is gone', async () => {
  // Olga owns the organization and its first team, which owns the job.
  const olga = await newPerson(browser);
  await signUp(olga.page, { org: unique('Sharing Co'), name: 'Olga Owner', email: uniqueEmail('olga') });
  const owningTeam = (await api(olga.page, 'GET', '/api/me')).teams[0].team_id;
  const analysts = await api(olga.page, 'POST', '/api/teams', { name: 'Analysts' });
  const connection = await api(olga.page, 'POST', '/api/connections', {
    name: 'Warehouse', kind: 'postgresql', team_id: owningTeam,
    settings: {
      host: PG_URL.hostname, port: Number(PG_URL.port || 5432), database: SOURCE_DB,
      user: decodeURIComponent(PG_URL.username || 'postgres'), tls_mode: 'disable',
    },
  });
  const jobName = unique('Nightly orders');
  const job = await api(olga.page, 'POST', '/api/jobs', {
    name: jobName, team_id: owningTeam,
    settings: {
      source: { connection_id: connection.id, table: { name: 'src' } },
      destination: { connection_id: connection.id, table: { name: 'dst' }, mode: 'insert' },
    },
  });

  // Ana is an editor of Analysts only: before the share she cannot see the job at all.
  const invitation = await api(olga.page, 'POST', '/api/invitations', {
    email: uniqueEmail('ana'), org_role: 'member', teams: [{ team_id: analysts.id, role: 'editor' }],
  });
  const ana = await newPerson(browser);
  await api(ana.page, 'POST', '/api/invitations/accept', {
    token: invitation.invite_url.split('/').pop(), name: 'Ana Analyst', password: PASSWORD,
  });
  assert.equal((await call(ana.page, 'GET', `/api/jobs/${job.id}`)).status, 404);

  // Olga shares the job with Analysts as operator, on the job page.
  await olga.page.goto(`/jobs/${job.id}`);
  const sharing = olga.page.getByTestId('sharing');
  await sharing.getByLabel('Analysts').selectOption({ label: 'Operator' });
  await sharing.getByRole('button', { name: 'Save sharing' }).click();
  await sharing.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  assert.deepEqual((await api(olga.page, 'GET', `/api/jobs/${job.id}`)).shares, [{ team_id: analysts.id, role: 'operator' }]);
  await screenshot(olga.page, 'job-sharing-form');

  // The Analysts team page lists the job as shared with the team.
  await olga.page.goto(`/teams/${analysts.id}`);
  const held = olga.page.getByTestId('team-resource-row').filter({ hasText: jobName });
  await held.filter({ hasText: 'Shared with this team: Operator' }).waitFor();
  assert.match(await held.innerText(), /Job\s+/);

  // Ana now sees the job in her list and on its page, with the sharing read-only.
  await ana.page.goto('/');
  await ana.page.getByTestId('dashboard-org').waitFor();
  await nav(ana.page, 'Jobs');
  await ana.page.getByTestId('job-row').filter({ hasText: jobName }).getByRole('link', { name: jobName }).click();
  await ana.page.getByRole('heading', { name: jobName, level: 1 }).waitFor();
  const shown = ana.page.getByTestId('sharing');
  await shown.getByTestId('job-share').filter({ hasText: 'Analysts · Operator' }).waitFor();
  await shown.getByText('Only admins of the team that owns this job (and organization admins) can change who it is shared with.').waitFor();
  assert.equal(await shown.locator('select').count(), 0, 'no sharing form for a member of the receiving team');
  // She may run it, but not change it: no settings link, no enable/disable.
  assert.equal(await ana.page.getByRole('link', { name: 'Change settings' }).count(), 0);
  assert.equal(await ana.page.getByRole('button', { name: 'Disable' }).count(), 0);
  await screenshot(ana.page, 'job-shared-as-operator');
  // The server agrees: a change is refused, a run is not.
  const edit = await call(ana.page, 'PATCH', `/api/jobs/${job.id}`, { description: 'changed by Ana' });
  assert.equal(edit.status, 403, JSON.stringify(edit.body));
  await ana.page.getByRole('button', { name: 'Run now' }).click();
  await ana.page.waitForURL(/\/runs\/[0-9a-f-]+$/);
  const runId = ana.page.url().split('/').pop();
  // Let the run finish before the source database is dropped.
  let run;
  for (let i = 0; i < 120; i++) {
    run = await api(ana.page, 'GET', `/api/runs/${runId}`);
    if (['succeeded', 'failed', 'cancelled', 'timed_out'].includes(run.status)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(run.job_id, job.id);

  // Olga un-shares it: gone from Ana's list, and its page says it does not exist.
  await olga.page.goto(`/jobs/${job.id}`);
  await olga.page.getByTestId('sharing').getByLabel('Analysts').selectOption({ label: 'Not shared' });
  await olga.page.getByTestId('sharing').getByRole('button', { name: 'Save sharing' }).click();
  await olga.page.getByTestId('sharing').getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  assert.deepEqual((await api(olga.page, 'GET', `/api/jobs/${job.id}`)).shares, []);

  await nav(ana.page, 'Jobs');
  await ana.page.waitForFunction(() => !document.querySelector('.loading'));
  assert.equal(await ana.page.getByTestId('job-row').filter({ hasText: jobName }).count(), 0);
  await ana.page.goto(`/jobs/${job.id}`);
  await ana.page.getByText('Job not found').waitFor();
  assert.equal((await call(ana.page, 'GET', `/api/jobs/${job.id}`)).status, 404);

  assert.deepEqual(olga.page.errors, []);
  assert.deepEqual(ana.page.errors, []);
  await olga.context.close();
  await ana.context.close();
});
