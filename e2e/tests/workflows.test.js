// A workflow built in the web editor (a transfer, then a data mart built from it, then a
// job whose data check checks the mart), run from its page with real runners: the graph's
// boxes turn green. Then the data makes the check fail: the run page shows the failed task
// on the graph and the run's error; the mart is fixed, "Resume from failed" runs only the
// check again, and the run succeeds. The editor also shows a server-side rule (a duplicate
// task name) beside the task's field, and the graph preview follows the edits. A second
// test adds a schedule and a notification rule on a workflow's page, and sets its overlap
// and a variable in the editor. A third creates a wait-until task and an HTTP task (with a
// secret header) in the editor and sees them on the workflow page.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { launch, newPerson, signUp, uniqueEmail, unique, screenshot, api } from './helpers.js';

const PG = process.env.HAKOBU_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const PG_URL = new URL(PG);
const DB = `hakobu_e2e_workflow_${unique('x').slice(2)}`;

function psql(db, sql) {
  return execFileSync('psql', [`${PG}/${db}`, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' }).trim();
}

let browser;
before(async () => {
  psql('postgres', `CREATE DATABASE "${DB}"`);
  psql(DB, "CREATE TABLE orders (id bigint PRIMARY KEY, day date, amount int); INSERT INTO orders VALUES (1, '2026-12-01', 10), (2, '2026-12-01', 5), (3, '2026-12-02', 7)");
  browser = await launch();
});
after(async () => {
  await browser?.close();
  psql('postgres', `DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
});

/** A box of the graph, by task name. */
function node(page, task) {
  return page.locator(`[data-testid="wf-node"][data-task="${task}"]`);
}

/** Waits until the task's box on the graph is in `state` (the run page polls every 2 s). */
async function waitForState(page, task, state, timeout = 120000) {
  await page.locator(`[data-testid="wf-node"][data-task="${task}"][data-state="${state}"]`).waitFor({ timeout });
}

test('a three-task workflow is built in the editor, runs green, fails at its check, and resumes from the failure', async () => {
  const { context, page } = await newPerson(browser);
  await signUp(page, { org: unique('Flow Co'), name: 'Wanda Owner', email: uniqueEmail('wanda') });
  const team = (await api(page, 'GET', '/api/me')).teams[0].team_id;
  const connection = await api(page, 'POST', '/api/connections', {
    name: 'Warehouse', kind: 'postgresql', team_id: team,
    settings: {
      host: PG_URL.hostname, port: Number(PG_URL.port || 5432), database: DB,
      user: decodeURIComponent(PG_URL.username || 'postgres'), tls_mode: 'disable',
    },
  });
  // The three jobs: a copy of the orders, a mart of daily totals from the copy, and a job
  // whose data check says the mart has no negative total.
  await api(page, 'POST', '/api/jobs', {
    name: 'Load orders', team_id: team,
    settings: {
      source: { connection_id: connection.id, table: { name: 'orders' } },
      destination: { connection_id: connection.id, table: { name: 'orders_copy' }, mode: 'replace' },
    },
  });
  await api(page, 'POST', '/api/jobs', {
    name: 'Daily mart', team_id: team,
    settings: {
      kind: 'data_mart',
      source: { connection_id: connection.id, statements: 'DROP TABLE IF EXISTS daily; CREATE TABLE daily AS SELECT day, sum(amount) AS total FROM orders_copy GROUP BY day;' },
      destination: { connection_id: connection.id },
    },
  });
  await api(page, 'POST', '/api/jobs', {
    name: 'Check the mart', team_id: team,
    settings: {
      kind: 'data_mart',
      source: { connection_id: connection.id, statements: 'CREATE TABLE IF NOT EXISTS checked (at timestamptz); INSERT INTO checked VALUES (now());' },
      destination: { connection_id: connection.id },
      checks: [{ name: 'no negative day', connection_id: connection.id, sql: 'SELECT count(*) FROM daily WHERE total < 0', operator: '=', expected: '0', on_failure: 'fail' }],
    },
  });

  // The list, empty, and its "New workflow".
  await page.goto('/workflows');
  await page.getByRole('heading', { name: 'Workflows' }).waitFor();
  await page.getByRole('link', { name: 'New workflow' }).click();
  await page.getByRole('heading', { name: 'New workflow' }).waitFor();

  await page.getByLabel('Workflow name').fill('Nightly orders');
  const tasks = page.getByTestId('workflow-task');
  await tasks.nth(0).getByTestId('task-name').fill('load');
  await tasks.nth(0).getByTestId('task-job').selectOption({ label: 'Load orders' });
  // A new task runs after the last one by default.
  await page.getByTestId('workflow-add-task').click();
  await tasks.nth(1).getByTestId('task-name').fill('load');
  await tasks.nth(1).getByTestId('task-job').selectOption({ label: 'Daily mart' });
  // A duplicate name: said beside the second task's name, nothing saved.
  await page.getByRole('button', { name: 'Create the workflow' }).click();
  await tasks.nth(1).locator('.field-error').filter({ hasText: 'Another task is already named' }).waitFor();
  assert.equal((await api(page, 'GET', '/api/workflows')).length, 0);
  await tasks.nth(1).getByTestId('task-name').fill('mart');
  await page.getByTestId('workflow-add-task').click();
  await tasks.nth(2).getByTestId('task-name').fill('check');
  await tasks.nth(2).getByTestId('task-job').selectOption({ label: 'Check the mart' });
  // The preview draws the chain as it is edited: three boxes, two arrows, left to right.
  await node(page, 'check').waitFor();
  assert.equal(await page.getByTestId('wf-edge').count(), 2);
  const x = async (task) => Number(await node(page, task).locator('rect').getAttribute('x'));
  assert.ok((await x('load')) < (await x('mart')) && (await x('mart')) < (await x('check')));
  assert.ok(await tasks.nth(2).locator('[data-testid="task-after"][data-after="mart"]').isChecked());
  await screenshot(page, 'workflow-editor');
  await page.getByRole('button', { name: 'Create the workflow' }).click();
  await page.getByTestId('workflow-name').filter({ hasText: 'Nightly orders' }).waitFor();
  const workflow = page.url().split('/').pop();
  const saved = await api(page, 'GET', `/api/workflows/${workflow}`);
  assert.deepEqual(saved.spec.tasks.map((t) => [t.name, t.after ?? []]), [['load', []], ['mart', ['load']], ['check', ['mart']]]);

  // Run now: the run page's graph turns green, task by task.
  await page.getByTestId('workflow-run-now').click();
  await page.getByRole('button', { name: 'Start the run' }).click();
  await page.getByRole('heading', { name: /Workflow run/ }).waitFor();
  for (const task of ['load', 'mart', 'check']) await waitForState(page, task, 'succeeded');
  await page.getByTestId('workflow-run-status').locator('[data-status="succeeded"]').waitFor({ timeout: 10000 });
  const green = await node(page, 'check').locator('rect').evaluate((r) => getComputedStyle(r).fill);
  assert.equal(green, 'rgb(227, 244, 232)');
  assert.match(await node(page, 'check').textContent(), /succeeded/i);
  assert.equal(await page.getByTestId('task-job-run').count(), 3);
  await screenshot(page, 'workflow-run-succeeded');

  // A negative order makes the check fail: the failed box on the graph, the run's error.
  psql(DB, 'UPDATE orders SET amount = -100 WHERE id = 3');
  await page.goto(`/workflows/${workflow}`);
  await page.getByTestId('workflow-run-now').click();
  await page.getByRole('button', { name: 'Start the run' }).click();
  await page.getByRole('heading', { name: /Workflow run/ }).waitFor();
  await waitForState(page, 'check', 'failed');
  await page.getByTestId('workflow-run-status').locator('[data-status="failed"]').waitFor({ timeout: 10000 });
  await page.getByTestId('workflow-run-error').filter({ hasText: 'check' }).waitFor();
  assert.equal(await node(page, 'load').getAttribute('data-state'), 'succeeded');
  assert.equal(await node(page, 'mart').getAttribute('data-state'), 'succeeded');
  const red = await node(page, 'check').locator('rect').evaluate((r) => getComputedStyle(r).fill);
  assert.equal(red, 'rgb(253, 236, 234)');
  await screenshot(page, 'workflow-run-failed');
  const run = page.url().split('/').pop();
  const before = await api(page, 'GET', `/api/workflow-runs/${run}`);

  // Fixed in the mart itself (the load and the mart are not run again), then resumed.
  psql(DB, 'UPDATE daily SET total = 0 WHERE total < 0');
  await page.getByTestId('workflow-run-resume').click();
  await waitForState(page, 'check', 'succeeded');
  await page.getByTestId('workflow-run-status').locator('[data-status="succeeded"]').waitFor({ timeout: 10000 });
  const resumed = await api(page, 'GET', `/api/workflow-runs/${run}`);
  assert.equal(resumed.status, 'succeeded');
  assert.equal(resumed.attempt, 2);
  const starts = Object.fromEntries(resumed.tasks.map((t) => [t.name, t.starts]));
  assert.deepEqual(starts, { load: 1, mart: 1, check: 2 });
  const runIds = (r) => Object.fromEntries(r.tasks.map((t) => [t.name, t.run_id]));
  assert.equal(runIds(resumed).load, runIds(before).load, 'the load kept its job run');
  assert.notEqual(runIds(resumed).check, runIds(before).check, 'the check ran again');
  // The workflow's list shows how the last run went.
  await page.goto('/workflows');
  await page.getByTestId('workflow-row').filter({ hasText: 'Nightly orders' }).locator('[data-status="succeeded"]').waitFor();
  await screenshot(page, 'workflows-list');

  assert.deepEqual(page.errors, []);
  await context.close();
});

test('a workflow page adds a schedule and a notification rule, and the editor sets overlap and variables', async () => {
  const { context, page } = await newPerson(browser);
  await signUp(page, { org: unique('Flow Plans'), name: 'Sam Scheduler', email: uniqueEmail('sam') });
  const team = (await api(page, 'GET', '/api/me')).teams[0].team_id;
  await api(page, 'POST', '/api/notification-destinations', {
    name: 'Ops hook', settings: { kind: 'webhook', url: 'https://example.com/hook', headers: [] },
  });
  const workflow = await api(page, 'POST', '/api/workflows', {
    name: 'Morning pause', team_id: team,
    spec: { tasks: [{ name: 'pause', action: { type: 'wait', seconds: 5 } }] },
  });
  await page.goto(`/workflows/${workflow.id}`);
  await page.getByTestId('workflow-name').filter({ hasText: 'Morning pause' }).waitFor();

  // A schedule: the job page's form, its next runs as one types.
  const schedules = page.getByTestId('schedules-panel');
  await schedules.getByText('No schedule').waitFor();
  await schedules.getByLabel('Repeat').selectOption('cron');
  await schedules.getByLabel('Expression').fill('0 6 * * 1-5');
  await schedules.getByLabel('Time zone').fill('Asia/Tokyo');
  await schedules.getByTestId('upcoming').locator('li').first().waitFor();
  await schedules.getByRole('button', { name: 'Add a schedule' }).click();
  await schedules.getByTestId('schedule').filter({ hasText: 'Cron 0 6 * * 1-5' }).filter({ hasText: 'Asia/Tokyo' }).waitFor();
  await schedules.getByTestId('schedules-note').filter({ hasText: 'starts another run' }).waitFor();
  const listed = await api(page, 'GET', `/api/workflows/${workflow.id}/schedules`);
  assert.equal(listed.length, 1);
  assert.equal(listed[0].settings.recurrence.expression, '0 6 * * 1-5');

  // A rule: a workflow's are for its success or failure only.
  const rules = page.getByTestId('workflow-rules-panel');
  await rules.getByText('This workflow has no notification rules.').waitFor();
  await rules.getByRole('button', { name: 'Change notification rules' }).click();
  await rules.getByRole('button', { name: 'Add a notification rule' }).click();
  await rules.getByLabel('Send to').selectOption({ label: 'Ops hook (webhook)' });
  const events = await rules.getByLabel('When').locator('option').count();
  assert.equal(events, 2);
  await rules.getByLabel('When').selectOption({ label: 'a run succeeds' });
  await screenshot(page, 'workflow-schedule-and-rule');
  await rules.getByRole('button', { name: 'Save notification rules' }).click();
  await rules.getByTestId('workflow-rule').filter({ hasText: 'Ops hook' }).waitFor();
  const saved = await api(page, 'GET', `/api/workflows/${workflow.id}/notification-rules`);
  assert.deepEqual(saved.map((r) => r.event), ['success']);

  // The schedule goes again.
  await schedules.getByTestId('schedule').getByRole('button', { name: 'Remove' }).click();
  await schedules.getByTestId('schedule').getByRole('group').getByRole('button', { name: 'Remove' }).click();
  await schedules.getByText('No schedule').waitFor();

  // The editor: skip a fire time while a run is going, and a text variable.
  await page.getByTestId('workflow-edit').click();
  await page.getByTestId('workflow-form').waitFor();
  await page.getByTestId('workflow-overlap').getByLabel('Skip it').check();
  const variables = page.getByTestId('workflow-variables');
  await variables.getByRole('button', { name: 'Add a variable' }).click();
  await variables.getByLabel('Variable name').fill('region');
  assert.equal(await variables.getByLabel('Value comes from').locator('option').count(), 2);
  await variables.getByLabel('Value comes from').selectOption('string');
  await variables.getByLabel('Text', { exact: true }).fill('apac');
  await page.getByRole('button', { name: 'Save the workflow' }).click();
  await page.getByTestId('schedules-note').filter({ hasText: 'is skipped' }).waitFor();
  await page.getByTestId('workflow-variable').filter({ hasText: 'apac' }).waitFor();
  const changed = await api(page, 'GET', `/api/workflows/${workflow.id}`);
  assert.equal(changed.spec.overlap, 'skip');
  assert.deepEqual(changed.spec.variables, [{ name: 'region', value: { kind: 'string', value: 'apac' }, in_sql: 'literal' }]);
  await screenshot(page, 'workflow-overlap-and-variables');

  assert.deepEqual(page.errors, []);
  await context.close();
});

test('the editor creates a wait-until task and an HTTP task with a secret header, kept when saved again', async () => {
  const { context, page } = await newPerson(browser);
  await signUp(page, { org: unique('Flow Hooks'), name: 'Hana Hook', email: uniqueEmail('hana') });
  await page.goto('/workflows/new');
  await page.getByRole('heading', { name: 'New workflow' }).waitFor();
  await page.getByLabel('Workflow name').fill('Morning ping');
  const tasks = page.getByTestId('workflow-task');

  // A wait until half past nine in Tokyo.
  await tasks.nth(0).getByTestId('task-name').fill('morning');
  await tasks.nth(0).getByTestId('task-kind').selectOption('wait_until');
  await tasks.nth(0).getByTestId('task-time').fill('09:30');
  await tasks.nth(0).getByTestId('task-time-zone').fill('Asia/Tokyo');

  // Then a POST with a secret header, retried once after 30 s.
  await page.getByTestId('workflow-add-task').click();
  const http = tasks.nth(1);
  await http.getByTestId('task-name').fill('ping');
  await http.getByTestId('task-kind').selectOption('http');
  await http.getByTestId('task-method').selectOption('POST');
  await http.getByTestId('task-url').fill('ftp://example.com/hook');
  await http.getByTestId('task-add-header').click();
  await http.getByTestId('task-header-name').fill('Authorization');
  await http.getByTestId('task-header-value').fill('Bearer s3cret-token');
  await http.getByTestId('task-header-secret').check();
  await http.getByTestId('task-body').fill('{"ready": true}');
  await http.getByLabel('Retries (optional)').fill('1');
  await http.getByTestId('task-retry-delay').fill('30');
  // A URL that is not http(s): said beside the URL field, nothing saved.
  await page.getByRole('button', { name: 'Create the workflow' }).click();
  await http.locator('.field.invalid').filter({ has: page.getByTestId('task-url') }).locator('.field-error').waitFor();
  assert.equal((await api(page, 'GET', '/api/workflows')).length, 0);
  await http.getByTestId('task-url').fill('https://example.com/hook');
  await screenshot(page, 'workflow-editor-http');
  await page.getByRole('button', { name: 'Create the workflow' }).click();
  await page.getByTestId('workflow-name').filter({ hasText: 'Morning ping' }).waitFor();

  // Listed on the workflow's page; the secret header's value is never shown again.
  await page.getByTestId('workflow-task-row').filter({ hasText: '09:30 Asia/Tokyo' }).waitFor();
  await page.getByTestId('workflow-task-row').filter({ hasText: 'POST https://example.com/hook' }).waitFor();
  const id = page.url().split('/').pop();
  const saved = await api(page, 'GET', `/api/workflows/${id}`);
  assert.deepEqual(saved.spec.tasks[0].action, { type: 'wait_until', time: '09:30', time_zone: 'Asia/Tokyo' });
  const ping = saved.spec.tasks[1];
  assert.deepEqual([ping.after, ping.retries, ping.retry_delay_seconds], [['morning'], 1, 30]);
  assert.equal(ping.action.method, 'POST');
  assert.equal(ping.action.body, '{"ready": true}');
  assert.deepEqual(ping.action.headers, [{ name: 'Authorization', secret: true }]);
  assert.doesNotMatch(await page.content(), /s3cret-token/);

  // Saved again unchanged: the stored secret stays (sent back without a value).
  await page.getByTestId('workflow-edit').click();
  await page.getByTestId('workflow-form').waitFor();
  assert.equal(await tasks.nth(1).getByTestId('task-header-value').inputValue(), '');
  assert.equal(await tasks.nth(1).getByTestId('task-retry-delay').inputValue(), '30');
  await page.getByRole('button', { name: 'Save the workflow' }).click();
  await page.getByTestId('workflow-name').filter({ hasText: 'Morning ping' }).waitFor();
  await page.getByTestId('workflow-task-row').filter({ hasText: 'POST https://example.com/hook' }).waitFor();
  const again = await api(page, 'GET', `/api/workflows/${id}`);
  assert.deepEqual(again.spec.tasks[1].action.headers, [{ name: 'Authorization', secret: true }]);

  assert.deepEqual(page.errors, []);
  await context.close();
});
