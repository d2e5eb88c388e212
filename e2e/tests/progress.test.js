// A run people watch: the run page's determinate bar with "about N% done" and the time
// left while a real runner loads an analyzed table, the bytes read and written at the
// end, and the queue saying that a second run waits for its own job, in both languages.
//
// The destination table has a row trigger that sleeps 2 ms on every 20th row, so the load
// takes about ten seconds whatever the machine (a sleep on every row overshoots its tenth
// of a millisecond many times over on a busy machine): long enough to be watched, and the
// source is throttled by the destination the way a slow warehouse throttles it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { launch, newPerson, signUp, uniqueEmail, unique, screenshot, api } from './helpers.js';

const PG = process.env.HAKOBU_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const PG_URL = new URL(PG);
const SOURCE_DB = `hakobu_e2e_progress_${unique('x').slice(2)}`;
const ROWS = 100000;

function psql(db, sql) {
  return execFileSync('psql', [`${PG}/${db}`, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' }).trim();
}

let browser;
before(async () => {
  psql('postgres', `CREATE DATABASE "${SOURCE_DB}"`);
  psql(SOURCE_DB, `CREATE TABLE src AS SELECT g::bigint AS id, md5(g::text) AS note FROM generate_series(1, ${ROWS}) g;
    ALTER TABLE src ADD PRIMARY KEY (id);
    ANALYZE src;
    CREATE TABLE dst (id bigint, note text);
    CREATE FUNCTION slow_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.id % 20 = 0 THEN PERFORM pg_sleep(0.002); END IF; RETURN NEW; END $$;
    CREATE TRIGGER slow BEFORE INSERT ON dst FOR EACH ROW EXECUTE FUNCTION slow_row();`);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  psql('postgres', `DROP DATABASE IF EXISTS "${SOURCE_DB}" WITH (FORCE)`);
});

test('a running load shows its share done and time left; the queue says a second run waits for its job', async () => {
  const { context, page } = await newPerson(browser);
  await signUp(page, { org: unique('Progress Co'), name: 'Paula Owner', email: uniqueEmail('paula') });
  const team = (await api(page, 'GET', '/api/me')).teams[0].team_id;
  const connection = await api(page, 'POST', '/api/connections', {
    name: 'Warehouse', kind: 'postgresql', team_id: team,
    settings: {
      host: PG_URL.hostname, port: Number(PG_URL.port || 5432), database: SOURCE_DB,
      user: decodeURIComponent(PG_URL.username || 'postgres'), tls_mode: 'disable',
    },
  });
  const job = (await api(page, 'POST', '/api/jobs', {
    name: 'Slow copy', team_id: team,
    settings: {
      source: { connection_id: connection.id, table: { name: 'src' } },
      destination: { connection_id: connection.id, table: { name: 'dst' }, mode: 'insert_direct' },
      overlap: 'queue',
    },
  })).id;
  const first = await api(page, 'POST', `/api/jobs/${job}/runs`, {});
  const second = await api(page, 'POST', `/api/jobs/${job}/runs`, {});

  // The run page while it loads: a determinate bar, "about N% done" from the table's
  // statistics, and the time left.
  await page.goto(`/runs/${first.id}`);
  const done = page.getByTestId('run-done');
  await done.filter({ hasText: /about \d+% done/ }).waitFor({ timeout: 30000 });
  await done.filter({ hasText: /left/ }).waitFor({ timeout: 10000 });
  const said = await done.innerText();
  const percent = Number(said.match(/about (\d+)% done/)[1]);
  assert.ok(percent >= 0 && percent < 100, said);
  const value = Number(await page.locator('progress[aria-labelledby="run-progress-label"]').getAttribute('value'));
  assert.ok(value > 0 && value < 1, `bar value ${value}`);
  await screenshot(page, 'run-progress');

  // The queue: the second run waits for the first, because of its job's overlap setting.
  await page.goto('/queue');
  const waiting = page.getByTestId('queue-waiting-table');
  await waiting.getByTestId('held-by-its-job').filter({ hasText: 'waits for earlier runs of its job' }).waitFor();
  await screenshot(page, 'queue-held');

  // In Japanese too.
  await page.getByLabel('Language').selectOption('ja');
  await waiting.getByTestId('held-by-its-job').filter({ hasText: '同じジョブの前の実行の終了を待っています' }).waitFor();
  await page.getByLabel('表示言語').selectOption('en');

  // The first ends; its page shows what it read and wrote.
  await page.goto(`/runs/${first.id}`);
  await page.getByTestId('run-status').filter({ hasText: /succeeded/ }).waitFor({ timeout: 120000 });
  const numbers = await page.getByTestId('run-numbers').innerText();
  assert.match(numbers, new RegExp(`${ROWS.toLocaleString('en-US')} rows written`), numbers);
  assert.match(numbers, /\d+(\.\d)? [kMG]B read, \d+(\.\d)? [kMG]B written/, numbers);
  const ended = await api(page, 'GET', `/api/runs/${first.id}`);
  assert.ok(ended.bytes_written > ROWS * 32, JSON.stringify(ended));
  assert.equal(psql(SOURCE_DB, 'SELECT count(*) FROM dst'), String(ROWS));

  // The second is no longer held: it starts once the first has ended.
  for (let i = 0; i < 120; i += 1) {
    const now = await api(page, 'GET', `/api/runs/${second.id}`);
    if (now.status !== 'queued') break;
    await page.waitForTimeout(500);
  }
  assert.deepEqual(page.errors, []);
  await context.close();
});
