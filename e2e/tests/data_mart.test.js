// A data mart made in the web form: statements that build a mart table, run by a real
// runner; then changed on the same form (filled in as saved) into "delete, then insert" by
// a condition, keeping the job's other settings; the wizard's edit address sends a data
// mart to its own form instead of saving it as a transfer.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { launch, newPerson, signUp, uniqueEmail, unique, screenshot, api, runToEnd } from './helpers.js';

const PG = process.env.HAKOBU_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const PG_URL = new URL(PG);
const DB = `hakobu_e2e_mart_${unique('x').slice(2)}`;

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

test('a data mart is made and changed on its form, and runs in a runner', async () => {
  const { context, page } = await newPerson(browser);
  await signUp(page, { org: unique('Mart Co'), name: 'Olga Owner', email: uniqueEmail('olga') });
  const team = (await api(page, 'GET', '/api/me')).teams[0].team_id;
  await api(page, 'POST', '/api/connections', {
    name: 'Warehouse', kind: 'postgresql', team_id: team,
    settings: {
      host: PG_URL.hostname, port: Number(PG_URL.port || 5432), database: DB,
      user: decodeURIComponent(PG_URL.username || 'postgres'), tls_mode: 'disable',
    },
  });

  await page.goto('/jobs');
  await page.getByRole('link', { name: 'New data mart' }).click();
  await page.getByRole('heading', { name: 'New data mart' }).waitFor();
  // Nothing typed: the name is asked for beside its box.
  await page.getByRole('button', { name: 'Create data mart' }).click();
  await page.locator('#data-mart-name-error').waitFor();
  await page.getByLabel('Job name').fill('Daily totals');
  await page.getByTestId('data-mart-sql').fill(
    'CREATE TABLE daily AS SELECT day, sum(amount) AS total FROM orders GROUP BY day;',
  );
  await page.getByRole('button', { name: 'Create data mart' }).click();
  await page.getByRole('heading', { name: 'Daily totals' }).waitFor();
  const job = page.url().split('/').pop();
  const done = await runToEnd(page, job);
  assert.equal(done.status, 'succeeded', JSON.stringify(done));
  assert.equal(psql(DB, 'SELECT string_agg(day || \'=\' || total, \',\' ORDER BY day) FROM daily'), '2026-12-01=15,2026-12-02=7');

  // A setting the form does not show, which a change on the form keeps.
  const saved = await api(page, 'GET', `/api/jobs/${job}`);
  await api(page, 'PATCH', `/api/jobs/${job}`, { settings: { ...saved.settings, timeout_minutes: 42 } });

  await page.getByRole('link', { name: 'Change settings' }).click();
  await page.getByRole('heading', { name: 'Change the data mart' }).waitFor();
  assert.match(await page.getByTestId('data-mart-sql').inputValue(), /^CREATE TABLE daily AS/);
  assert.equal(await page.getByLabel('What to do').inputValue(), 'statements');
  await page.getByLabel('What to do').selectOption('delete_insert');
  await page.getByTestId('data-mart-sql').fill("SELECT day, sum(amount) AS total FROM orders WHERE day = '2026-12-01' GROUP BY day");
  await page.getByLabel('Target table').fill('daily');
  await page.locator('select').filter({ hasText: 'Rows matching a condition' }).selectOption('condition');
  await page.getByLabel('Condition (WHERE on the target table)').fill("day = '2026-12-01'");
  await page.getByTestId('data-mart-preview').click();
  await page.getByTestId('data-mart-preview-table').getByText('15').waitFor();
  await screenshot(page, 'data-mart-edit');
  await page.getByRole('button', { name: 'Save job' }).click();
  await page.getByRole('heading', { name: 'Daily totals' }).waitFor();
  const changed = await api(page, 'GET', `/api/jobs/${job}`);
  assert.equal(changed.kind, 'data_mart');
  assert.equal(changed.settings.destination.mode, 'delete_insert');
  assert.equal(changed.settings.destination.delete_where, "day = '2026-12-01'");
  assert.equal(changed.settings.timeout_minutes, 42, 'kept from before');

  psql(DB, 'UPDATE orders SET amount = 100 WHERE id = 1');
  const again = await runToEnd(page, job);
  assert.equal(again.status, 'succeeded', JSON.stringify(again));
  assert.equal(psql(DB, 'SELECT string_agg(day || \'=\' || total, \',\' ORDER BY day) FROM daily'), '2026-12-01=105,2026-12-02=7');

  // The transfer wizard's address sends a data mart to its own form.
  await page.goto(`/jobs/${job}/edit`);
  await page.getByRole('heading', { name: 'Change the data mart' }).waitFor();
  assert.ok(page.url().endsWith(`/jobs/${job}/data-mart`), page.url());

  assert.deepEqual(page.errors, []);
  await context.close();
});
