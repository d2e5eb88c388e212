// The insights page after two real runs (one loads, one fails on a missing table): the
// figures, the bars the page draws, the most failing job, the per-run CSV behind the link,
// the run page's runner usage, and the same page in Japanese.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { launch, newPerson, signUp, uniqueEmail, unique, screenshot, nav, api, runToEnd } from './helpers.js';

const PG = process.env.HAKOBU_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const PG_URL = new URL(PG);
const SOURCE_DB = `hakobu_e2e_insights_${unique('x').slice(2)}`;

function psql(db, sql) {
  return execFileSync('psql', [`${PG}/${db}`, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' }).trim();
}

let browser;
before(async () => {
  psql('postgres', `CREATE DATABASE "${SOURCE_DB}"`);
  psql(SOURCE_DB, "CREATE TABLE src (id bigint PRIMARY KEY, name text); INSERT INTO src VALUES (1, 'one'), (2, 'two'); CREATE TABLE renamed (id bigint PRIMARY KEY)");
  browser = await launch();
});
after(async () => {
  await browser?.close();
  psql('postgres', `DROP DATABASE IF EXISTS "${SOURCE_DB}" WITH (FORCE)`);
});

test('insights draw two real runs, list the failing job, export the CSV, and read in Japanese', async () => {
  const { context, page } = await newPerson(browser);
  await signUp(page, { org: unique('Insights Co'), name: 'Olga Owner', email: uniqueEmail('olga') });
  const team = (await api(page, 'GET', '/api/me')).teams[0].team_id;
  const connection = await api(page, 'POST', '/api/connections', {
    name: 'Warehouse', kind: 'postgresql', team_id: team,
    settings: {
      host: PG_URL.hostname, port: Number(PG_URL.port || 5432), database: SOURCE_DB,
      user: decodeURIComponent(PG_URL.username || 'postgres'), tls_mode: 'disable',
    },
  });
  const job = async (name, table) => (await api(page, 'POST', '/api/jobs', {
    name, team_id: team,
    settings: {
      source: { connection_id: connection.id, table: { name: table } },
      destination: { connection_id: connection.id, table: { name: `dst_${table}` }, mode: 'insert' },
    },
  })).id;
  const good = await job('Orders copy', 'src');
  const bad = await job('Renamed table', 'renamed');
  // Renamed after the job was saved: its run fails.
  psql(SOURCE_DB, 'ALTER TABLE renamed RENAME TO renamed_later');
  const loaded = await runToEnd(page, good);
  assert.equal(loaded.status, 'succeeded', JSON.stringify(loaded));
  const failed = await runToEnd(page, bad);
  assert.equal(failed.status, 'failed', JSON.stringify(failed));

  await nav(page, 'Insights');
  await page.getByRole('heading', { name: 'Insights' }).waitFor();
  const runs = page.getByTestId('insights-runs');
  await runs.waitFor();
  assert.equal(await runs.innerText(), '2');
  assert.equal(await page.getByTestId('insights-failure-rate').innerText(), '50.0%');
  assert.match(await page.getByTestId('insights-cost').innerText(), /^0\.\d{4} USD$/);
  // Today's bar holds one succeeded and one failed segment.
  const chart = page.getByTestId('insights-chart');
  assert.equal(await chart.locator('rect.bar:not(.bar-failed):not(.bar-cancelled)').count(), 1);
  assert.equal(await chart.locator('rect.bar-failed').count(), 1);
  await page.getByTestId('insights-most-failing').getByRole('link', { name: 'Renamed table' }).waitFor();
  assert.equal(await page.getByTestId('insights-job').count(), 2);
  await screenshot(page, 'insights');

  // The link's CSV: a header and one line per run, with the job's name.
  const href = await page.getByTestId('insights-csv').getAttribute('href');
  const csv = await (await page.request.get(href)).text();
  const lines = csv.trim().split('\n');
  assert.equal(lines.length, 3, csv);
  assert.ok(lines.some((l) => l.includes(',Orders copy,succeeded,')), csv);

  // The period choice asks again: a week holds the same two runs.
  await page.getByTestId('insights-period').selectOption('7');
  await runs.waitFor();
  assert.equal(await runs.innerText(), '2');

  // The run page shows the runner's size and what it used.
  await page.goto(`/runs/${loaded.id}`);
  await page.getByTestId('run-usage').filter({ hasText: /^1 vCPU, 2048 MiB · [\d.]+ vCPU-seconds · about 0\.\d{4} USD$/ }).waitFor();

  await page.getByLabel('Language').selectOption('ja');
  await page.getByRole('link', { name: 'インサイト', exact: true }).click();
  await page.getByRole('heading', { name: 'インサイト' }).waitFor();
  await page.getByRole('heading', { name: '日ごとの実行結果' }).waitFor();
  await page.getByText('us-east-1 の Fargate 公開価格', { exact: false }).waitFor();
  await screenshot(page, 'insights-ja');

  assert.deepEqual(page.errors, []);
  await context.close();
});
