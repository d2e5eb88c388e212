// What an analyst does beyond a plain copy: a `$day$` variable in the destination table's
// name, data checks and a notification rule in the wizard's step 4, a run "as of" another
// day whose page shows the value, the checks and the notification, a backfill; and a
// forgotten password reset through a real email (scripts/e2e.sh runs a local SMTP server
// and passes its Maildir in HAKOBU_E2E_MAILDIR).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { launch, newPerson, signUp, uniqueEmail, unique, screenshot, nav, PASSWORD, BASE } from './helpers.js';

const PG = process.env.HAKOBU_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const PG_HOST = new URL(PG).hostname;
const PG_PORT = new URL(PG).port || '5432';
const PG_USER = decodeURIComponent(new URL(PG).username || 'postgres');
const suffix = unique('x').slice(2);
const SOURCE_DB = `hakobu_e2e_vsrc_${suffix}`;
const DEST_DB = `hakobu_e2e_vdst_${suffix}`;

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

async function createConnection(page, name, database) {
  await nav(page, 'Connections');
  await page.getByRole('link', { name: 'New connection' }).click();
  await page.getByLabel('Kind').selectOption('postgresql');
  await page.getByLabel('Connection name').fill(name);
  await page.locator('#connection-settings-host').fill(PG_HOST);
  await page.locator('#connection-settings-port').fill(PG_PORT);
  await page.getByLabel('Database').fill(database);
  await page.locator('#connection-settings-user').fill(PG_USER);
  await page.getByLabel('TLS').selectOption('disable');
  await page.getByRole('button', { name: 'Save connection' }).click();
  await page.waitForURL(/\/connections\/[0-9a-f-]{36}\?created=1$/);
}

/** `YYYYMMDD` of the day before now, in Tokyo (the browser's zone in these tests). */
function yesterdayInTokyo() {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo', year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(new Date(Date.now() - 86_400_000));
  return parts.replaceAll('-', '');
}

/** Polls `check` every 500 ms until it returns a truthy value (`seconds` at most). */
async function eventually(check, seconds, what) {
  for (let i = 0; i < seconds * 2; i++) {
    const value = await check();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('a $day$ variable names the destination table; the run page shows its value, the checks and the notification', async () => {
  const { context, page } = await newPerson(browser);
  await signUp(page, { org: unique('Vars Co'), name: 'Vera Variable', email: uniqueEmail('vera') });
  await createConnection(page, 'Shop', SOURCE_DB);
  await createConnection(page, 'Warehouse', DEST_DB);
  // A destination for the rule, made through the API as an administrator would. Nothing
  // listens on port 9, so the delivery fails and says why.
  const created = await page.evaluate(async () => {
    const r = await fetch('/api/notification-destinations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Team hook', settings: { kind: 'webhook', url: 'http://127.0.0.1:9/hook', headers: [] } }),
    });
    return r.status;
  });
  assert.equal(created, 201);

  const jobRequests = [];
  page.on('request', (r) => { if (r.url().endsWith('/api/jobs') && r.method() === 'POST') jobRequests.push(r.url()); });
  await nav(page, 'Jobs');
  await page.getByRole('link', { name: 'New job' }).click();
  await page.getByLabel('Source connection').selectOption({ label: 'Shop (PostgreSQL)' });
  await page.locator('#job-settings-source-table').selectOption('orders');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByTestId('preview').getByText('Chen').waitFor();
  await page.getByRole('button', { name: 'Next' }).click();

  // Step 3: a placeholder without its closing $ is flagged beside the field, by position.
  await page.getByLabel('Destination connection').selectOption({ label: 'Warehouse (PostgreSQL)' });
  await page.getByLabel('Destination table').fill('orders_$day');
  await page.getByRole('button', { name: 'Next' }).click();
  const tableError = page.locator('#job-settings-destination-table-error');
  await tableError.waitFor();
  assert.match(await tableError.textContent(), /"\$day" at position 8 is not a variable: write a variable as \$name\$/);
  assert.equal(await page.getByLabel('Destination table').getAttribute('aria-invalid'), 'true');
  await screenshot(page, 'analyst-wizard-3-bad-placeholder');
  // Closed, it may be used before it is defined in step 4 ...
  await page.getByLabel('Destination table').fill('orders_$day$');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('heading', { name: 'Step 4: Run settings' }).waitFor();
  // ... but not left undefined: Next leads back to where it is used.
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('heading', { name: 'Step 3: Destination' }).waitFor();
  assert.match(await tableError.textContent(), /unknown variable \$day\$ at position 8; known here: \$run_id\$, \$job_name\$, \$scheduled_time\$/);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('heading', { name: 'Step 4: Run settings' }).waitFor();

  // The variable: yesterday of the run's due date, in Tokyo, as YYYYMMDD.
  await page.getByRole('button', { name: 'Add a variable' }).click();
  await page.locator('#job-settings-variables-0--name').fill('day');
  await page.locator('#job-settings-variables-0--value-format').fill('%Y%m%');
  await page.getByRole('button', { name: 'Next' }).click();
  const formatError = page.locator('#job-settings-variables-0--value-format-error');
  await formatError.waitFor();
  assert.match(await formatError.textContent(), /is not a valid format; use strftime codes/);
  await page.locator('#job-settings-variables-0--value-format').fill('%Y%m%d');
  assert.equal(await page.locator('#job-settings-variables-0--value-timezone').inputValue(), 'Asia/Tokyo');
  await page.getByTestId('variable-example').filter({ hasText: yesterdayInTokyo() }).waitFor();

  // Two checks: the day's table exists (the value goes in as a quoted literal), and one
  // that only warns.
  await page.getByRole('button', { name: 'Add a check' }).click();
  await page.getByRole('button', { name: 'Add a check' }).click();
  const checkNames = page.getByLabel('What it makes sure of');
  const checkSql = page.getByLabel('Query returning one value');
  await checkNames.nth(0).fill('the day table exists');
  await checkSql.nth(0).fill("SELECT count(*) FROM information_schema.tables WHERE table_name = 'orders_' || $day$");
  await page.getByLabel('Expected value').nth(0).fill('1');
  await checkNames.nth(1).fill('an archive exists');
  await checkSql.nth(1).fill("SELECT count(*) FROM information_schema.tables WHERE table_name = 'orders_archive'");
  await page.getByLabel('Expected value').nth(1).fill('1');
  await page.getByLabel('Only warn when it fails; the run still succeeds').nth(1).check();

  // A rule: fewer than 10 rows written. Without a threshold it is stopped beside the field.
  await page.getByRole('button', { name: 'Add a notification rule' }).click();
  await page.locator('#job-rules-0--destination_id').selectOption({ label: 'Team hook (webhook)' });
  await page.locator('#job-rules-0--event').selectOption({ label: 'a run writes fewer rows than the threshold' });
  await page.getByRole('button', { name: 'Next' }).click();
  const thresholdError = page.locator('#job-rules-0--threshold-error');
  await thresholdError.waitFor();
  assert.equal(await thresholdError.textContent(), 'Threshold is required: the number of rows to compare with');
  await page.locator('#job-rules-0--threshold').fill('10');
  await screenshot(page, 'analyst-wizard-4-variables-checks-rules');
  await page.getByRole('button', { name: 'Next' }).click();

  await page.getByRole('heading', { name: 'Step 5: Review and save' }).waitFor();
  assert.match(await page.getByTestId('compiled-yaml').innerText(), /orders_\$day\$/);
  assert.equal(jobRequests.length, 0, 'nothing was sent before Save');
  await page.getByLabel('Job name').fill('Daily orders');
  await page.getByRole('button', { name: 'Save job' }).click();
  await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
  await page.getByRole('heading', { name: 'Daily orders' }).waitFor();
  assert.equal(jobRequests.length, 1);
  // The job page sums up what step 4 added; the rule was saved after the job.
  await page.getByTestId('job-variables').getByText('$day$').waitFor();
  await page.getByTestId('job-rules').filter({ hasText: 'a run writes fewer rows than the threshold' }).waitFor();
  await screenshot(page, 'analyst-job-page');

  // Run as of 1 November, 09:00 Tokyo time: $day$ is 31 October.
  await page.getByRole('button', { name: /Run with options/ }).click();
  await page.getByLabel('As of (your time zone)').fill('2026-11-01T09:00');
  await screenshot(page, 'analyst-run-options');
  await page.getByRole('button', { name: 'Start the run' }).click();
  await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
  await page.locator('[data-testid="run-status"] [data-status="succeeded"]').waitFor({ timeout: 90_000 });
  const variables = page.getByTestId('run-variables');
  await variables.getByText('20261031').waitFor();
  assert.match(await variables.innerText(), /\$day\$\s+20261031/);
  assert.match(await variables.innerText(), /As of/);
  const checks = page.getByTestId('check-result');
  await checks.nth(1).waitFor();
  assert.equal(await checks.nth(0).locator('[data-outcome]').getAttribute('data-outcome'), 'passed');
  assert.equal(await checks.nth(1).locator('[data-outcome]').getAttribute('data-outcome'), 'warned');
  assert.match(await checks.nth(0).innerText(), /the day table exists/);
  assert.equal(psql(DEST_DB, 'SELECT count(*) FROM orders_20261031'), '5');
  // The rule fired (5 < 10); the notifier records the delivery once it has tried.
  await eventually(async () => {
    await page.reload();
    await page.getByTestId('run-numbers').waitFor();
    return (await page.getByTestId('run-notifications').count()) > 0;
  }, 60, 'the run\'s notification');
  assert.match(await page.getByTestId('run-notifications').innerText(), /a run writes fewer rows than the threshold/);
  assert.match(await page.getByTestId('run-notifications').innerText(), /Team hook/);
  await screenshot(page, 'analyst-run-variables-checks');

  // Backfill two days; a parallelism out of range is flagged before anything is sent.
  await page.getByRole('link', { name: 'Daily orders' }).click();
  await page.getByRole('button', { name: /Backfill/ }).click();
  await page.getByLabel('From (first period)').fill('2026-11-02T00:00');
  await page.getByLabel('To (last period, included)').fill('2026-11-03T00:00');
  await page.getByTestId('backfill-count').filter({ hasText: 'This queues 2 runs.' }).waitFor();
  await page.getByLabel('Runs at once').fill('11');
  await page.getByRole('button', { name: 'Queue the runs' }).click();
  assert.equal(await page.locator('#backfill-parallelism-error').textContent(), 'Runs at once must be from 1 to 10');
  await page.getByLabel('Runs at once').fill('2');
  await page.getByRole('button', { name: 'Queue the runs' }).click();
  await page.getByTestId('backfill-queued').filter({ hasText: '2 runs queued.' }).waitFor();
  await screenshot(page, 'analyst-backfill');
  // Each run is as of its day's start (midnight in Tokyo), so $day$ is the day before.
  await eventually(() => psql(DEST_DB, "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('orders_20261101', 'orders_20261102')") === '2', 120, 'the backfilled tables');

  // Editing keeps the variable and the rule.
  await page.getByRole('link', { name: 'Change settings' }).click();
  await page.getByRole('button', { name: /Run settings/ }).click();
  assert.equal(await page.locator('#job-settings-variables-0--name').inputValue(), 'day');
  assert.equal(await page.locator('#job-rules-0--threshold').inputValue(), '10');
  assert.deepEqual(page.errors, []);
  await context.close();
});

/** The newest mail to `to` in the test SMTP server's Maildir, with quoted-printable undone. */
function mailTo(to) {
  const dir = join(process.env.HAKOBU_E2E_MAILDIR ?? '', 'new');
  let files;
  try {
    files = readdirSync(dir).map((f) => join(dir, f));
  } catch {
    return null;
  }
  files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const file of files) {
    const raw = readFileSync(file, 'utf8').replace(/\r\n/g, '\n');
    const [head, ...rest] = raw.split('\n\n');
    if (!new RegExp(`^To:.*${to.replace(/[.+]/g, '\\$&')}`, 'mi').test(head)) continue;
    let body = rest.join('\n\n');
    if (/content-transfer-encoding:\s*quoted-printable/i.test(head)) {
      body = body.replace(/=\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
    }
    return body;
  }
  return null;
}

test('a forgotten password is reset through the emailed link, once', { skip: !process.env.HAKOBU_E2E_MAILDIR && 'no local SMTP server (run through scripts/e2e.sh)' }, async () => {
  const email = uniqueEmail('forgetful');
  const owner = await newPerson(browser);
  await signUp(owner.page, { org: unique('Forget Co'), name: 'Fumi', email });
  await owner.context.close();

  const { context, page } = await newPerson(browser);
  await page.goto('/signin');
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.waitForURL('**/forgot-password');
  // An invalid address is flagged before anything is sent.
  await page.getByLabel('Email').fill('not-an-address');
  await page.getByRole('button', { name: 'Send the link' }).click();
  assert.equal(await page.locator('#forgot-email-error').textContent(), 'Email must be an email address such as name@example.com');
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Send the link' }).click();
  await page.getByTestId('reset-sent').waitFor();
  await screenshot(page, 'password-reset-requested');

  const body = await eventually(() => mailTo(email), 30, 'the reset mail');
  const link = body.match(/https?:\/\/\S+\/reset-password\/\S+/)?.[0];
  assert.ok(link, body);
  // The link names this app's own page.
  assert.ok(link.startsWith(`${BASE}/reset-password/`), link);
  await page.goto(link);
  await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
  await page.getByLabel('New password').fill('short');
  await page.getByRole('button', { name: 'Set the new password' }).click();
  assert.match(await page.locator('#reset-password-error').textContent(), /^New password must be at least \d+ characters long$/);
  const newPassword = `${PASSWORD} again`;
  await page.getByLabel('New password').fill(newPassword);
  await page.getByRole('button', { name: 'Set the new password' }).click();
  await page.getByTestId('reset-done').waitFor();
  await screenshot(page, 'password-reset-done');

  // The new password signs in; the old one does not.
  await page.getByRole('link', { name: 'Sign in', exact: true }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('The email or password is wrong.').waitFor();
  await page.getByLabel('Password').fill(newPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('dashboard-org').waitFor();

  // The link worked once.
  const second = await newPerson(browser);
  await second.page.goto(link);
  await second.page.getByLabel('New password').fill(`${PASSWORD} third`);
  await second.page.getByRole('button', { name: 'Set the new password' }).click();
  await second.page.getByText(/This password reset link is not valid any more/).waitFor();
  await second.page.getByRole('link', { name: 'Ask for a new link' }).waitFor();
  await screenshot(second.page, 'password-reset-used-link');
  assert.deepEqual(page.errors, []);
  assert.deepEqual(second.page.errors, []);
  await second.context.close();
  await context.close();
});

test('the password reset pages speak Japanese to a Japanese browser', async () => {
  const { context, page } = await newPerson(browser, { locale: 'ja-JP' });
  await page.goto('/signin');
  await page.getByRole('link', { name: 'パスワードをお忘れですか？' }).click();
  await page.getByRole('heading', { name: 'パスワードの再設定' }).waitFor();
  await page.getByLabel('メールアドレス').fill('nope');
  await page.getByRole('button', { name: 'リンクを送信' }).click();
  assert.equal(await page.locator('#forgot-email-error').textContent(), 'name@example.com のような形式のメールアドレスを入力してください。');
  await page.goto('/reset-password/not-a-real-token');
  await page.getByRole('heading', { name: '新しいパスワードの設定' }).waitFor();
  await page.getByLabel('新しいパスワード').fill(`${PASSWORD} ja`);
  await page.getByRole('button', { name: '新しいパスワードを設定' }).click();
  await page.getByText('このパスワード再設定リンクは無効です。', { exact: false }).waitFor();
  await screenshot(page, 'password-reset-invalid-ja');
  assert.deepEqual(page.errors, []);
  await context.close();
});
