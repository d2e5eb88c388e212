// A data mart made in the web form: statements that build a mart table and use a `$day$`
// variable ("1 day ago" in Tokyo), with a data check on the day's row, run by a real
// runner, whose run page shows the check passed; a bad variable name is flagged beside its
// box; then changed on the same form (filled in as saved, variable and check included)
// into "delete, then insert" by a condition, keeping the job's other settings; the
// wizard's edit address sends a data mart to its own form instead of saving it as a
// transfer.

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

/** Yesterday in Tokyo as YYYY-MM-DD: `$day$` of a run due now. */
function yesterdayInTokyo() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo', year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(new Date(Date.now() - 86_400_000));
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
    'CREATE TABLE daily AS SELECT day, sum(amount) AS total FROM orders GROUP BY day;\n'
    + 'CREATE TABLE mart_days AS SELECT $day$::text AS day;',
  );
  // The variable: the day before the run's due date, in Tokyo.
  await page.getByRole('button', { name: 'Add a variable' }).click();
  const varName = page.locator('#data-mart-settings-variables-0--name');
  await varName.fill('the day');
  await page.locator('#data-mart-settings-variables-0--value-timezone').fill('Asia/Tokyo');
  assert.equal(await page.locator('#data-mart-settings-variables-0--value-format').inputValue(), '%Y-%m-%d');
  // The check: the day's row is there (on the data mart's connection, chosen already).
  await page.getByRole('button', { name: 'Add a check' }).click();
  await page.getByLabel('What it makes sure of').fill("the day's row is there");
  await page.getByLabel('Query returning one value').fill('SELECT count(*) FROM mart_days WHERE day = $day$');
  await page.getByLabel('Expected value').fill('1');
  assert.equal(await page.getByLabel('Connection it runs on').inputValue(), await page.getByLabel('Database or data warehouse', { exact: true }).inputValue(), 'the check runs on the data mart\'s connection');
  // A name the API refuses is shown beside the variable's name box.
  await page.getByRole('button', { name: 'Create data mart' }).click();
  const nameError = page.locator('#data-mart-settings-variables-0--name-error');
  await nameError.waitFor();
  assert.match(await nameError.textContent(), /Variable name/);
  await varName.fill('day');
  await page.getByTestId('variable-example').filter({ hasText: yesterdayInTokyo() }).waitFor();
  await screenshot(page, 'data-mart-variables-checks');
  await page.getByRole('button', { name: 'Create data mart' }).click();
  await page.getByRole('heading', { name: 'Daily totals' }).waitFor();
  const job = page.url().split('/').pop();
  const before = yesterdayInTokyo();
  const done = await runToEnd(page, job);
  assert.equal(done.status, 'succeeded', JSON.stringify(done));
  assert.equal(psql(DB, 'SELECT string_agg(day || \'=\' || total, \',\' ORDER BY day) FROM daily'), '2026-12-01=15,2026-12-02=7');
  assert.ok([before, yesterdayInTokyo()].includes(psql(DB, 'SELECT day FROM mart_days')), psql(DB, 'SELECT day FROM mart_days'));
  // The run page shows the check and that it passed.
  await page.goto(`/runs/${done.id}`);
  const check = page.getByTestId('check-result');
  await check.first().waitFor();
  assert.equal(await check.count(), 1);
  assert.equal(await check.first().locator('[data-outcome]').getAttribute('data-outcome'), 'passed');
  assert.match(await check.first().innerText(), /the day's row is there/);
  await page.goto(`/jobs/${job}`);
  await page.getByRole('heading', { name: 'Daily totals' }).waitFor();

  // A setting the form does not show, which a change on the form keeps.
  const saved = await api(page, 'GET', `/api/jobs/${job}`);
  await api(page, 'PATCH', `/api/jobs/${job}`, { settings: { ...saved.settings, timeout_minutes: 42 } });

  await page.getByRole('link', { name: 'Change settings' }).click();
  await page.getByRole('heading', { name: 'Change the data mart' }).waitFor();
  assert.match(await page.getByTestId('data-mart-sql').inputValue(), /^CREATE TABLE daily AS/);
  assert.equal(await page.getByLabel('What to do').inputValue(), 'statements');
  // The variable and the check come back as saved.
  assert.equal(await page.locator('#data-mart-settings-variables-0--name').inputValue(), 'day');
  assert.equal(await page.locator('#data-mart-settings-variables-0--value-timezone').inputValue(), 'Asia/Tokyo');
  assert.equal(await page.locator('#data-mart-settings-variables-0--value-offset-quantity').inputValue(), '1');
  assert.equal(await page.getByLabel('What it makes sure of').inputValue(), "the day's row is there");
  assert.equal(await page.getByLabel('Query returning one value').inputValue(), 'SELECT count(*) FROM mart_days WHERE day = $day$');
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
  assert.deepEqual(changed.settings.variables, saved.settings.variables, 'the variable kept as saved');
  assert.equal(changed.settings.variables[0].value.timezone, 'Asia/Tokyo');
  assert.deepEqual(changed.settings.checks, saved.settings.checks, 'the check kept as saved');
  assert.equal(changed.settings.checks[0].expected, '1');

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
