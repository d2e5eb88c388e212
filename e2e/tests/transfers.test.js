// Connections, the job wizard and runs, against real PostgreSQL databases: a source with a
// few rows and an empty destination, both created here and dropped afterwards.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { launch, newPerson, signUp, uniqueEmail, unique, screenshot, nav } from './helpers.js';

const PG = process.env.HAKOBU_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const PG_HOST = new URL(PG).hostname;
const PG_PORT = new URL(PG).port || '5432';
const PG_USER = decodeURIComponent(new URL(PG).username || 'postgres');
const suffix = unique('x').slice(2);
const SOURCE_DB = `hakobu_e2e_src_${suffix}`;
const DEST_DB = `hakobu_e2e_dst_${suffix}`;

function psql(db, sql) {
  return execFileSync('psql', [`${PG}/${db}`, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' }).trim();
}

let browser;
before(async () => {
  for (const db of [SOURCE_DB, DEST_DB]) psql('postgres', `CREATE DATABASE "${db}"`);
  psql(SOURCE_DB, `CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, amount integer NOT NULL);
    INSERT INTO orders VALUES (1, 'Ana', 120), (2, 'Bo', 75), (3, 'Chen', 300), (4, 'Dana', 42), (5, 'Eiko', 999);`);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  for (const db of [SOURCE_DB, DEST_DB]) psql('postgres', `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
});

/** Fills the PostgreSQL connection form (already open) for `database`. */
async function fillPostgres(page, { name, database, host = PG_HOST, port = PG_PORT }) {
  await page.getByLabel('Kind').selectOption('postgresql');
  await page.getByLabel('Connection name').fill(name);
  await page.locator('#connection-settings-host').fill(host);
  await page.locator('#connection-settings-port').fill(port);
  await page.getByLabel('Database').fill(database);
  await page.locator('#connection-settings-user').fill(PG_USER);
  // The local server's certificate is self-signed; the TLS modes have their own tests.
  await page.getByLabel('TLS').selectOption('disable');
}

async function createConnection(page, options) {
  await nav(page, 'Connections');
  await page.getByRole('link', { name: 'New connection' }).click();
  await page.waitForURL('**/connections/new');
  await fillPostgres(page, options);
  await page.getByRole('button', { name: 'Save connection' }).click();
  await page.waitForURL(/\/connections\/[0-9a-f-]{36}\?created=1$/);
  await page.getByText('Saved.').waitFor();
}

test('sign up, connect two databases, build a job in the wizard, run it, and the rows arrive', async () => {
  const { context, page } = await newPerson(browser);
  await signUp(page, { org: unique('Transfer Co'), name: 'Ana Analyst', email: uniqueEmail('ana') });
  await page.getByText('No runs yet').waitFor();
  await screenshot(page, 'dashboard-empty');

  // A connection, tested before saving.
  await nav(page, 'Connections');
  await page.getByText('No connections yet').waitFor();
  await screenshot(page, 'connections-empty');
  await page.getByRole('link', { name: 'New connection' }).click();
  await fillPostgres(page, { name: 'Shop source', database: SOURCE_DB });
  // Help texts come from core's schema.
  await page.getByText('The database user Hakobu signs in as. A read-only user is enough for a source.').waitFor();
  await page.getByRole('button', { name: 'Test connection' }).click();
  const result = page.getByTestId('test-result');
  await result.getByText(/Connected in \d+ ms\./).waitFor();
  await screenshot(page, 'connection-test-ok');
  await page.getByRole('button', { name: 'Save connection' }).click();
  await page.waitForURL(/\/connections\/[0-9a-f-]{36}\?created=1$/);
  await page.getByText('Saved.').waitFor();
  // Saved: the form shows the settings again; the password was never typed, so none is set.
  assert.equal(await page.locator('#connection-settings-host').inputValue(), PG_HOST);
  await screenshot(page, 'connection-saved');

  await createConnection(page, { name: 'Warehouse', database: DEST_DB });
  await nav(page, 'Connections');
  await page.getByTestId('connection-row').nth(1).waitFor();
  assert.equal(await page.getByTestId('connection-row').count(), 2);
  await screenshot(page, 'connections-list');

  // The wizard, step by step.
  await nav(page, 'Jobs');
  await page.getByText('No jobs yet').waitFor();
  await screenshot(page, 'jobs-empty');
  await page.getByRole('link', { name: 'New job' }).click();
  await page.getByRole('heading', { name: 'Step 1: Source' }).waitFor();
  // Nothing chosen: the step says what is missing and does not move on.
  await page.getByRole('button', { name: 'Next' }).click();
  assert.equal(await page.locator('#job-settings-source-connection_id-error').textContent(), 'Source connection is required');
  await page.getByLabel('Source connection').selectOption({ label: 'Shop source (PostgreSQL)' });
  await page.locator('#job-settings-source-table').selectOption('orders');
  await screenshot(page, 'wizard-1-source');
  await page.getByRole('button', { name: 'Next' }).click();

  await page.getByRole('heading', { name: 'Step 2: Preview and columns' }).waitFor();
  const preview = page.getByTestId('preview');
  await preview.getByText('Chen').waitFor();
  assert.equal(await preview.locator('tbody tr').count(), 5);
  await page.getByLabel('New name for customer').fill('customer_name');
  await screenshot(page, 'wizard-2-columns');
  await page.getByRole('button', { name: 'Next' }).click();

  await page.getByRole('heading', { name: 'Step 3: Destination' }).waitFor();
  await page.getByLabel('Destination connection').selectOption({ label: 'Warehouse (PostgreSQL)' });
  await page.getByLabel('Destination table').fill('orders_copy');
  // A table that does not exist yet is said to be new.
  await page.getByTestId('new-table').waitFor();
  // Every mode is explained in one line.
  await page.getByText('Adds the new rows in one transaction: a failed run leaves the table as it was.').waitFor();
  await screenshot(page, 'wizard-3-destination');
  await page.getByRole('button', { name: 'Next' }).click();

  await page.getByRole('heading', { name: 'Step 4: Run settings' }).waitFor();
  // The runner size offers only the memory Fargate pairs with the chosen CPU.
  await page.getByLabel('vCPU').selectOption('0.25');
  assert.deepEqual(await page.getByLabel('Memory (MiB)').locator('option').allInnerTexts(), ['512', '1024', '2048']);
  assert.equal(await page.getByLabel('Memory (MiB)').inputValue(), '2048', 'a size that still fits is kept');
  await page.getByLabel('Memory (MiB)').selectOption('512');
  await page.getByLabel('vCPU').selectOption('1');
  assert.equal(await page.getByLabel('Memory (MiB)').inputValue(), '2048', '512 MiB does not go with 1 vCPU');
  // A schedule, with the job page's form: the browser's zone by default, the next ten
  // runs as you type, and a wrong time flagged beside its box before anything is saved.
  await page.getByTestId('add-schedule').click();
  const schedule = page.getByTestId('wizard-schedule');
  await schedule.waitFor();
  assert.equal(await schedule.getByLabel('Time zone').inputValue(), 'Asia/Tokyo');
  const upcoming = schedule.getByTestId('upcoming').locator('li');
  await upcoming.first().waitFor();
  assert.equal(await upcoming.count(), 10);
  await schedule.getByLabel('Time', { exact: true }).fill('25:00');
  await schedule.getByText('"25:00" is not a time; expected HH:MM on a 24-hour clock, e.g. 02:30 or 18:00').waitFor();
  assert.equal(await schedule.getByLabel('Time', { exact: true }).getAttribute('aria-invalid'), 'true');
  await schedule.getByText('Correct the fields above to see the next runs.').waitFor();
  assert.equal(await upcoming.count(), 0);
  await screenshot(page, 'wizard-4-schedule-invalid');
  // Next stays on step 4 while the schedule is wrong.
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('heading', { name: 'Step 4: Run settings' }).waitFor();
  assert.equal(await page.getByRole('heading', { name: 'Step 5: Review and save' }).count(), 0);
  await schedule.getByLabel('Time', { exact: true }).fill('02:30');
  await upcoming.nth(9).waitFor();
  assert.equal(await upcoming.count(), 10);
  // Every run at 2:30 in the morning, Tokyo time (the browser's zone here), on ten days.
  const nextTimes = await upcoming.allInnerTexts();
  for (const t of nextTimes) assert.match(t, /, 2:30 AM GMT\+9$/);
  assert.equal(new Set(nextTimes).size, 10);
  await screenshot(page, 'wizard-4-run-settings');
  await page.getByRole('button', { name: 'Next' }).click();

  await page.getByRole('heading', { name: 'Step 5: Review and save' }).waitFor();
  assert.match(await page.getByTestId('review-schedule').innerText(), /^Every day at 02:30 \(Asia\/Tokyo\) · next run .*2:30 AM GMT\+9$/);
  // Saving without a name is stopped beside the field.
  await page.getByRole('button', { name: 'Save job' }).click();
  assert.equal(await page.locator('#job-name-error').textContent(), 'Job name is required');
  await page.getByLabel('Job name').fill('Orders to the warehouse');
  // The message goes once the name is typed: it spoke of the empty box.
  assert.equal(await page.locator('#job-name-error').count(), 0);
  assert.equal(await page.getByLabel('Job name').getAttribute('aria-invalid'), 'false');
  const yaml = await page.getByTestId('compiled-yaml').innerText();
  assert.match(yaml, /table: orders\b/);
  assert.match(yaml, /orders_copy/);
  assert.match(yaml, /customer_name/);
  await screenshot(page, 'wizard-5-review');
  await page.getByRole('button', { name: 'Save job' }).click();
  await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
  await page.getByRole('heading', { name: 'Orders to the warehouse' }).waitFor();
  await page.getByText('This job has not run yet.', { exact: false }).waitFor();
  // The schedule was created with the job: on its page and in the organization's list.
  assert.match(await page.getByTestId('schedule').innerText(), /Every day at 02:30 \(Asia\/Tokyo\)/);
  const listed = await (await page.request.get('/api/schedules')).json();
  assert.equal(listed.length, 1);
  assert.equal(listed[0].target_name, 'Orders to the warehouse');
  assert.deepEqual(listed[0].settings.recurrence, { kind: 'daily', time: '02:30' });
  assert.equal(listed[0].settings.timezone, 'Asia/Tokyo');
  assert.equal(listed[0].enabled, true);
  // The job page's own form shows the next ten runs too.
  await page.getByTestId('upcoming').locator('li').nth(9).waitFor();
  assert.equal(await page.getByTestId('upcoming').locator('li').count(), 10);
  await screenshot(page, 'job-page');

  // Run it and follow it live.
  await page.getByRole('button', { name: 'Run now' }).click();
  await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
  await page.locator('[data-testid="run-status"] [data-status="succeeded"]').waitFor({ timeout: 90_000 });
  await page.getByTestId('run-numbers').filter({ hasText: '5 rows written' }).waitFor();
  assert.match(await page.getByTestId('run-numbers').innerText(), /5 rows read/);
  const firstLine = page.getByTestId('run-log').locator('li time').first();
  await firstLine.waitFor();
  // Log times are in the reader's zone (Tokyo here), like every other time on the page.
  const at = new Date(await firstLine.getAttribute('datetime'));
  const tokyo = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Asia/Tokyo', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  }).format(at);
  assert.equal(await firstLine.innerText(), tokyo);
  await screenshot(page, 'run-succeeded');

  // The rows are in the destination, renamed column included.
  assert.equal(psql(DEST_DB, 'SELECT count(*) FROM orders_copy'), '5');
  assert.equal(psql(DEST_DB, 'SELECT customer_name FROM orders_copy WHERE id = 3'), 'Chen');

  // The job page lists the run and draws its chart; the dashboard shows it as recent.
  await page.getByRole('link', { name: 'Orders to the warehouse' }).click();
  await page.getByTestId('run-row').first().waitFor();
  await page.locator('figure.chart svg rect').first().waitFor();
  assert.equal(await page.getByTestId('revisions').locator('li').count(), 1);
  await screenshot(page, 'job-page-with-run');
  await nav(page, 'Dashboard');
  await page.getByTestId('run-row').first().waitFor();
  // The counts load on their own; nothing runs any more.
  await page.getByTestId('running-count').filter({ hasText: /^0$/ }).waitFor();
  await screenshot(page, 'dashboard-with-run');
  await nav(page, 'Runs');
  await page.getByTestId('run-row').first().waitFor();
  await screenshot(page, 'runs-list');

  // Changing the job goes through the same wizard, filled in; saving makes revision 2.
  await page.goto(page.url().replace(/\/runs$/, '/jobs'));
  await page.getByRole('link', { name: 'Orders to the warehouse' }).click();
  await page.getByRole('link', { name: 'Change settings' }).click();
  await page.getByRole('heading', { name: 'Step 1: Source' }).waitFor();
  await page.getByRole('button', { name: /Review and save/ }).click();
  await page.getByLabel('Description (optional)').fill('Nightly copy of the orders.');
  assert.match(await page.getByTestId('compiled-yaml').innerText(), /customer_name/);
  await page.getByRole('button', { name: 'Save job' }).click();
  await page.getByText('Revision 2').first().waitFor();

  // Narrow screen: the run page still reads top to bottom.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByTestId('run-row').first().locator('a').first().click();
  await page.getByTestId('run-numbers').waitFor();
  await screenshot(page, 'run-narrow');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('a failing connection test says what is wrong in plain words, with a hint', async () => {
  const { context, page } = await newPerson(browser);
  await signUp(page, { org: unique('Fail Co'), name: 'Bo', email: uniqueEmail('bo') });
  await nav(page, 'Connections');
  await page.getByRole('link', { name: 'New connection' }).click();
  // Nothing listens on port 1.
  await fillPostgres(page, { name: 'Nowhere', database: SOURCE_DB, host: '127.0.0.1', port: '1' });
  await page.getByRole('button', { name: 'Test connection' }).click();
  const result = page.getByTestId('test-result');
  await result.getByText('Could not connect.').waitFor();
  assert.match(await result.innerText(), /Could not reach .*\./);
  assert.match(await result.innerText(), /Check the host and the port/);
  await screenshot(page, 'connection-test-failed');

  // A wrong database name on a reachable server gets its own message.
  await page.locator('#connection-settings-port').fill(PG_PORT);
  await page.getByLabel('Database').fill('no_such_database_here');
  await page.getByRole('button', { name: 'Test connection' }).click();
  await result.getByText(/does not exist/).waitFor();
  assert.match(await result.innerText(), /Check the spelling of the database name/);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('invalid connection fields are flagged before anything is sent', async () => {
  const { context, page } = await newPerson(browser);
  await signUp(page, { org: unique('Check Co'), name: 'Chen', email: uniqueEmail('chen') });
  const sent = [];
  page.on('request', (r) => { if (r.url().includes('/api/connections') && r.method() !== 'GET') sent.push(r.url()); });
  await nav(page, 'Connections');
  await page.getByRole('link', { name: 'New connection' }).click();
  await fillPostgres(page, { name: 'Bad', database: 'shop', host: 'postgres://db:5432', port: '70000' });
  await page.getByRole('button', { name: 'Save connection' }).click();

  const hostError = page.locator('#connection-settings-host-error');
  await hostError.waitFor();
  assert.equal(await hostError.textContent(), 'Host must be only a host name or IP address, without a scheme or path, e.g. db.example.com');
  assert.equal(await page.locator('#connection-settings-port-error').textContent(), 'Port must be a whole number from 1 to 65535');
  assert.equal(await page.locator('#connection-settings-host').getAttribute('aria-invalid'), 'true');
  // Focus goes to the first field to fix.
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'connection-settings-host');
  // Testing checks the same way, before calling the server.
  await page.getByRole('button', { name: 'Test connection' }).click();
  await screenshot(page, 'connection-invalid');
  await page.waitForTimeout(300);
  assert.deepEqual(sent, []);

  // Fixed, the same form saves.
  await page.locator('#connection-settings-host').fill('db.example.com');
  await page.locator('#connection-settings-port').fill('5432');
  await page.getByRole('button', { name: 'Save connection' }).click();
  await page.waitForURL(/\/connections\/[0-9a-f-]{36}\?created=1$/);
  assert.equal(sent.length, 1);
  assert.equal(await hostError.count(), 0);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('an Embulk config is imported: a wrong mode is named at its path, then the job runs', async () => {
  const { context, page } = await newPerson(browser);
  await signUp(page, { org: unique('Import Co'), name: 'Ina Importer', email: uniqueEmail('ina') });
  await nav(page, 'Jobs');
  await page.getByRole('link', { name: 'Import an Embulk config' }).click();
  await page.waitForURL('**/jobs/import');
  const database = (name) => `  type: postgresql
  host: ${PG_HOST}
  port: ${PG_PORT}
  user: ${PG_USER}
  password: "{{ env.PG_PASSWORD }}"
  database: ${name}`;
  const config = (mode) => `in:
${database(SOURCE_DB)}
  table: orders
out:
${database(DEST_DB)}
  table: orders_imported
  mode: ${mode}
`;
  await page.getByLabel('Job name').fill('Imported orders');
  await page.getByLabel('Embulk config').fill(config('upsert'));
  await page.getByLabel('Values for the template (optional)').fill('PG_PASSWORD=trusted-anyway');
  await page.getByRole('button', { name: 'Import' }).click();
  const problem = page.getByText('unknown mode "upsert"', { exact: false });
  await problem.waitFor();
  assert.match(await problem.innerText(), /out\.mode/);
  await screenshot(page, 'import-wrong-mode');

  // Merging into a table that does not exist yet: the database check names the config's key.
  await page.getByLabel('Embulk config').fill(config('merge'));
  await page.getByRole('button', { name: 'Import' }).click();
  const keys = page.getByText('out.merge_keys: are required', { exact: false });
  await keys.waitFor();
  assert.match(await keys.innerText(), /orders_imported does not exist yet/);

  await page.getByLabel('Embulk config').fill(`${config('merge')}  merge_keys: [id]\n`);
  await page.getByRole('button', { name: 'Import' }).click();
  await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
  await page.getByRole('heading', { name: 'Imported orders' }).waitFor();
  await screenshot(page, 'import-job-page');
  await page.getByRole('button', { name: 'Run now' }).click();
  await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
  await page.locator('[data-testid="run-status"] [data-status="succeeded"]').waitFor({ timeout: 90_000 });
  await page.getByTestId('run-numbers').filter({ hasText: '5 rows written' }).waitFor();
  assert.equal(psql(DEST_DB, 'SELECT string_agg(customer, \',\' ORDER BY id) FROM orders_imported'), 'Ana,Bo,Chen,Dana,Eiko');
  await context.close();
});
