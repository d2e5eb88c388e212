// The pages of team admins and operators: notification destinations (a Slack test message
// reaches a local listener), the schedules overview with bulk on/off, the queue and its
// concurrency limit, and what a member with a small role sees on each (a connection's name
// but never its host or user; actions replaced by the reason).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { launch, newPerson, signUp, nav, uniqueEmail, unique, screenshot, PASSWORD } from './helpers.js';

const PG = process.env.HAKOBU_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const PG_URL = new URL(PG);
const SOURCE_DB = `hakobu_e2e_admin_${unique('x').slice(2)}`;

function psql(db, sql) {
  return execFileSync('psql', [`${PG}/${db}`, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' }).trim();
}

/** A local HTTP endpoint standing in for Slack and webhooks: records every request. */
async function listener() {
  const received = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, received, url: `http://127.0.0.1:${server.address().port}` };
}

let browser;
let hook;
before(async () => {
  psql('postgres', `CREATE DATABASE "${SOURCE_DB}"`);
  psql(SOURCE_DB, 'CREATE TABLE src (id bigint PRIMARY KEY, name text)');
  browser = await launch();
  hook = await listener();
});
after(async () => {
  await browser?.close();
  hook?.server.close();
  psql('postgres', `DROP DATABASE IF EXISTS "${SOURCE_DB}" WITH (FORCE)`);
});

/** Calls the API with the person's session cookie; fails the test on an error status. */
async function api(page, method, url, data) {
  const response = await page.request.fetch(url, { method, data });
  const text = await response.text();
  assert.ok(response.ok(), `${method} ${url}: ${response.status()} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** An owner with a fresh organization; answers the person and their default team's id. */
async function owner(name = 'Olga Owner') {
  const person = await newPerson(browser);
  await signUp(person.page, { org: unique('Admin Co'), name, email: uniqueEmail('olga') });
  const me = await api(person.page, 'GET', '/api/me');
  return { ...person, team: me.teams[0].team_id };
}

/** Invites someone into the owner's default team at `role` and signs them in, all through
 * the API (the invitation flow itself is covered by members.test.js). */
async function member(admin, name, role) {
  const email = uniqueEmail(name.toLowerCase().split(' ')[0]);
  const created = await api(admin.page, 'POST', '/api/invitations', {
    email, org_role: 'member', teams: [{ team_id: admin.team, role }],
  });
  const token = created.invite_url.split('/').pop();
  const person = await newPerson(browser);
  await api(person.page, 'POST', '/api/invitations/accept', { token, name, password: PASSWORD });
  await person.page.goto('/');
  await person.page.getByTestId('dashboard-org').waitFor();
  return { ...person, email };
}

async function connection(admin, name, settings = {}) {
  const created = await api(admin.page, 'POST', '/api/connections', {
    name, kind: 'postgresql', team_id: admin.team,
    settings: {
      host: PG_URL.hostname, port: Number(PG_URL.port || 5432), database: SOURCE_DB,
      user: decodeURIComponent(PG_URL.username || 'postgres'), tls_mode: 'disable', ...settings,
    },
  });
  return created.id;
}

async function job(admin, name, connectionId) {
  const created = await api(admin.page, 'POST', '/api/jobs', {
    name, team_id: admin.team,
    settings: {
      source: { connection_id: connectionId, table: { name: 'src' } },
      destination: { connection_id: connectionId, table: { name: 'dst' }, mode: 'insert' },
    },
  });
  return created.id;
}

test('notification destinations: Slack URL never shown, test send reaches the endpoint, webhook secrets, default rules', async () => {
  const admin = await owner();
  const { page } = admin;
  await nav(page, 'Notifications');
  await page.getByRole('heading', { level: 1, name: 'Notifications' }).waitFor();
  await page.getByText('No destinations yet').waitFor();
  await screenshot(page, 'notifications-empty');

  // Nothing typed: the fields say what is missing and nothing is sent.
  await page.getByRole('button', { name: 'Add a destination' }).click();
  await page.locator('#destination-name-error').waitFor();
  assert.equal(await page.locator('#destination-settings-webhook_url-error').textContent(),
    'Slack webhook URL is required: paste the incoming webhook URL Slack gave you');

  const secretPath = `/services/T000/B000/${unique('secret')}`;
  await page.getByLabel('Destination name').fill('#data-alerts');
  await page.getByLabel('Slack webhook URL').fill(`${hook.url}${secretPath}`);
  await page.getByRole('button', { name: 'Add a destination' }).click();
  const row = page.getByTestId('destination-row').filter({ hasText: '#data-alerts' });
  await row.waitFor();
  assert.match(await row.innerText(), /Webhook URL stored \(not shown\)/);
  // The URL is a secret: neither the page nor the API shows it again.
  assert.doesNotMatch(await page.locator('body').innerText(), /secret-/);
  assert.doesNotMatch(JSON.stringify(await api(page, 'GET', '/api/notification-destinations')), /secret-/);

  // "Send test" posts a sample message to the listener and says so.
  await row.getByRole('button', { name: 'Send test' }).click();
  await row.getByTestId('test-result').filter({ hasText: 'Delivered: the endpoint answered 200.' }).waitFor();
  const slack = hook.received.filter((r) => r.url === secretPath);
  assert.equal(slack.length, 1);
  assert.equal(slack[0].method, 'POST');
  assert.match(slack[0].body, /Sample job/);
  JSON.parse(slack[0].body);
  await screenshot(page, 'notifications-test-sent');

  // Editing keeps the stored URL when the input stays empty.
  await row.getByRole('button', { name: 'Edit' }).click();
  await page.getByRole('heading', { name: 'Change a destination' }).waitFor();
  assert.equal(await page.getByLabel('Slack webhook URL').inputValue(), '');
  await page.getByText('Stored. Leave empty to keep it, or paste a new URL to replace it.').waitFor();
  await page.getByLabel('Destination name').fill('#data-alerts-2');
  await page.getByRole('button', { name: 'Save changes' }).click();
  const renamed = page.getByTestId('destination-row').filter({ hasText: '#data-alerts-2' });
  await renamed.waitFor();
  await renamed.getByRole('button', { name: 'Send test' }).click();
  await renamed.getByTestId('test-result').filter({ hasText: 'Delivered: the endpoint answered 200.' }).waitFor();
  assert.equal(hook.received.filter((r) => r.url === secretPath).length, 2);

  // A webhook with a secret header: sent with the request, never shown back.
  await page.getByLabel('Kind', { exact: true }).selectOption('webhook');
  await page.getByLabel('Destination name').fill('Warehouse hook');
  await page.getByLabel('Webhook URL').fill(`${hook.url}/hakobu`);
  await page.getByRole('button', { name: 'Add a header' }).click();
  await page.getByLabel('Header name').fill('Authorization');
  await page.getByLabel('Value').fill('Bearer s3cr3t-value');
  await page.getByLabel('Secret').check();
  await screenshot(page, 'notifications-webhook-form');
  await page.getByRole('button', { name: 'Add a destination' }).click();
  const webhook = page.getByTestId('destination-row').filter({ hasText: 'Warehouse hook' });
  await webhook.waitFor();
  assert.match(await webhook.innerText(), /headers: 1/);
  assert.doesNotMatch(await page.locator('body').innerText(), /s3cr3t/);
  await webhook.getByRole('button', { name: 'Send test' }).click();
  await webhook.getByTestId('test-result').filter({ hasText: 'Delivered: the endpoint answered 200.' }).waitFor();
  const sent = hook.received.filter((r) => r.url === '/hakobu');
  assert.equal(sent.length, 1);
  assert.equal(sent[0].headers.authorization, 'Bearer s3cr3t-value');
  assert.equal(JSON.parse(sent[0].body).job_name, 'Sample job');

  // An organization default: when a run writes fewer rows than 10, tell #data-alerts-2.
  const rules = page.locator('section', { hasText: 'Default rules of the organization' });
  await rules.getByText('No default rules').waitFor();
  await rules.getByLabel('When').selectOption('rows_below');
  await rules.getByLabel('Send to').selectOption({ label: '#data-alerts-2' });
  await rules.getByRole('button', { name: 'Add the rule' }).click();
  assert.equal(await page.locator('#rule-threshold-error').textContent(),
    'Threshold is required: the number of rows to compare with');
  await rules.getByLabel('Threshold').fill('10');
  await rules.getByRole('button', { name: 'Add the rule' }).click();
  const rule = rules.getByTestId('rule-row');
  await rule.waitFor();
  assert.match(await rule.innerText(), /A run wrote fewer rows than the threshold\s+10 rows\s+#data-alerts-2/);
  await screenshot(page, 'notifications');

  // Deleting asks first; Cancel backs out, Delete deletes.
  await webhook.getByRole('button', { name: 'Delete' }).click();
  await webhook.getByText('Delete the destination Warehouse hook? Its rules are deleted too.').waitFor();
  await webhook.getByRole('button', { name: 'Delete' }).click();
  await webhook.waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('destination-row').count(), 1);

  // A member sees where notifications go, and why they cannot change it.
  const mia = await member(admin, 'Mia Member', 'editor');
  await nav(mia.page, 'Notifications');
  await mia.page.getByTestId('destination-row').filter({ hasText: '#data-alerts-2' }).waitFor();
  assert.equal(await mia.page.getByRole('button', { name: 'Send test' }).count(), 0);
  assert.equal(await mia.page.getByRole('button', { name: 'Delete' }).count(), 0);
  await mia.page.getByText('Only organization admins and owners can add, change and test destinations and default rules.').first().waitFor();
  assert.equal(await mia.page.locator('#destination-name').count(), 0);
  await screenshot(mia.page, 'notifications-as-member');

  assert.deepEqual(page.errors, []);
  assert.deepEqual(mia.page.errors, []);
  await admin.context.close();
  await mia.context.close();
});

test('an operator sees a connection\'s name but never its host or user', async () => {
  const admin = await owner();
  const host = `db-${unique('h')}.internal.example`;
  const user = unique('loader_user').replace('-', '_');
  const id = await connection(admin, 'Orders database', { host, user });
  const otto = await member(admin, 'Otto Operator', 'operator');

  await nav(otto.page, 'Connections');
  await otto.page.getByTestId('connection-row').filter({ hasText: 'Orders database' }).waitFor();
  let text = await otto.page.locator('body').innerText();
  assert.doesNotMatch(text, new RegExp(host.replace(/\./g, '\\.')));
  assert.doesNotMatch(text, new RegExp(user));
  await screenshot(otto.page, 'connections-as-operator');

  await otto.page.goto(`/connections/${id}`);
  await otto.page.getByText('Orders database').first().waitFor();
  await otto.page.waitForFunction(() => !document.querySelector('.loading'));
  text = await otto.page.locator('body').innerText();
  assert.doesNotMatch(text, new RegExp(host.replace(/\./g, '\\.')));
  assert.doesNotMatch(text, new RegExp(user));
  // Not in the form's inputs either, nor in what the API gives the page.
  const values = await otto.page.locator('input, textarea').evaluateAll((els) => els.map((e) => e.value).join(' '));
  assert.doesNotMatch(values, new RegExp(user));
  const view = JSON.stringify(await api(otto.page, 'GET', `/api/connections/${id}`));
  assert.ok(!view.includes(host) && !view.includes(user), view);
  await screenshot(otto.page, 'connection-as-operator');

  // The owner, for comparison, sees both.
  await admin.page.goto(`/connections/${id}`);
  await admin.page.locator('#connection-settings-host').waitFor();
  assert.equal(await admin.page.locator('#connection-settings-host').inputValue(), host);

  // Team pages say what each team works with: its own connection, and one shared with it.
  const analysts = await api(admin.page, 'POST', '/api/teams', { name: 'Analysts' });
  await api(admin.page, 'PUT', `/api/connections/${id}/shares`, { shares: [{ team_id: analysts.id, role: 'operator' }] });
  await admin.page.goto(`/teams/${admin.team}`);
  await admin.page.getByTestId('team-resource-row').filter({ hasText: 'Orders database' }).filter({ hasText: 'Owned by this team' }).waitFor();
  await admin.page.goto(`/teams/${analysts.id}`);
  const shared = admin.page.getByTestId('team-resource-row');
  await shared.filter({ hasText: 'Shared with this team: Operator' }).waitFor();
  assert.equal(await shared.count(), 1);
  assert.match(await shared.innerText(), /Connection\s+Orders database/);
  await screenshot(admin.page, 'team-resources');

  assert.deepEqual(otto.page.errors, []);
  await admin.context.close();
  await otto.context.close();
});

test('schedules overview: next runs in the reader\'s zone, bulk off and on, operators see why they cannot', async () => {
  const admin = await owner();
  const conn = await connection(admin, 'Shop');
  const nightly = await job(admin, 'Nightly orders', conn);
  const hourly = await job(admin, 'Hourly stock', conn);
  await api(admin.page, 'POST', `/api/jobs/${nightly}/schedules`, {
    settings: { recurrence: { kind: 'daily', time: '02:30' }, timezone: 'Asia/Tokyo' },
  });
  await api(admin.page, 'POST', `/api/jobs/${hourly}/schedules`, {
    settings: { recurrence: { kind: 'hourly', minute: 15 }, timezone: 'Europe/Berlin' },
  });

  const { page } = admin;
  await nav(page, 'Schedules');
  const rows = page.getByTestId('schedule-row');
  await rows.nth(1).waitFor();
  assert.equal(await rows.count(), 2);
  const night = rows.filter({ hasText: 'Nightly orders' });
  // 02:30 in Tokyo, shown in the browser's zone (Tokyo) with the zone's name.
  assert.match(await night.locator('td').nth(3).innerText(), /2:30 AM GMT\+9/);
  assert.match(await night.innerText(), /Asia\/Tokyo/);
  await screenshot(page, 'schedules');

  // Turn one off.
  await page.getByLabel('Choose the schedule of Nightly orders').check();
  await page.getByTestId('selected-count').filter({ hasText: '1 chosen' }).waitFor();
  await page.getByRole('button', { name: 'Turn off' }).click();
  await page.getByTestId('bulk-result').filter({ hasText: 'Schedules turned off: 1.' }).waitFor();
  await night.getByText('None while off').waitFor();
  assert.match(await night.innerText(), /\bOff\b/);
  const listed = await api(page, 'GET', '/api/schedules');
  assert.equal(listed.find((s) => s.job_id === nightly).enabled, false);
  assert.equal(listed.find((s) => s.job_id === hourly).enabled, true);
  await screenshot(page, 'schedules-one-off');

  // Choose all, turn all on.
  await page.getByLabel('Choose every schedule you can change').check();
  await page.getByTestId('selected-count').filter({ hasText: '2 chosen' }).waitFor();
  await page.getByRole('button', { name: 'Turn on' }).click();
  await page.getByTestId('bulk-result').filter({ hasText: 'Schedules turned on: 2.' }).waitFor();
  await night.locator('time').waitFor();
  assert.ok((await api(page, 'GET', '/api/schedules')).every((s) => s.enabled));

  // An operator of the team sees the schedules but cannot choose them, and is told why.
  const otto = await member(admin, 'Otto Operator', 'operator');
  await nav(otto.page, 'Schedules');
  await otto.page.getByTestId('schedule-row').nth(1).waitFor();
  assert.equal(await otto.page.getByLabel('Choose the schedule of Nightly orders').isDisabled(), true);
  await otto.page.getByText('Only editors and admins of a job can turn its schedules on or off.').waitFor();
  assert.equal(await otto.page.getByRole('button', { name: 'Turn off' }).isDisabled(), true);
  await screenshot(otto.page, 'schedules-as-operator');

  assert.deepEqual(page.errors, []);
  assert.deepEqual(otto.page.errors, []);
  await admin.context.close();
  await otto.context.close();
});

test('queue: the limit in words, admins change it (checked first), members read it with the reason', async () => {
  const admin = await owner();
  const { page } = admin;
  await nav(page, 'Queue');
  const limit = page.getByTestId('concurrency-limit');
  await limit.filter({ hasText: /The service's ceiling applies: at most \d+ at once\./ }).waitFor();
  const ceiling = Number((await limit.innerText()).match(/at most ([\d,]+)/)[1].replace(/,/g, ''));
  await page.getByText('Nothing is running.').waitFor();
  await page.getByText('Nothing is waiting.').waitFor();
  await screenshot(page, 'queue');

  await page.getByLabel('Runs at once', { exact: true }).fill(String(ceiling + 1));
  await page.getByRole('button', { name: 'Save changes' }).click();
  assert.match(await page.locator('#concurrency-max_concurrent_runs-error').textContent(), new RegExp(`from 1 to ${ceiling}`));
  const limitValue = Math.max(1, ceiling - 1);
  await page.getByLabel('Runs at once', { exact: true }).fill(String(limitValue));
  await page.getByRole('button', { name: 'Save changes' }).click();
  await limit.filter({ hasText: `This organization runs at most ${limitValue} at once` }).waitFor();
  assert.equal((await api(page, 'GET', '/api/queue')).organization_limit, limitValue);
  await screenshot(page, 'queue-limit-set');

  const mia = await member(admin, 'Mia Member', 'editor');
  await nav(mia.page, 'Queue');
  await mia.page.getByTestId('concurrency-limit').filter({ hasText: `runs at most ${limitValue} at once` }).waitFor();
  await mia.page.getByText('Only organization admins and owners can change how many runs go at once.').waitFor();
  assert.equal(await mia.page.getByLabel('Runs at once', { exact: true }).count(), 0);
  await screenshot(mia.page, 'queue-as-member');

  assert.deepEqual(page.errors, []);
  assert.deepEqual(mia.page.errors, []);
  await admin.context.close();
  await mia.context.close();
});

test('queue: with a limit of one, one slow run goes and the others wait in order', async () => {
  const admin = await owner();
  const { page } = admin;
  await api(page, 'PUT', '/api/organization/concurrency', { max_concurrent_runs: 1 });
  const conn = await connection(admin, 'Shop');
  // A source query that takes a while, so the first run is still going when the page looks.
  const created = await api(page, 'POST', '/api/jobs', {
    name: 'Slow export', team_id: admin.team,
    settings: {
      source: { connection_id: conn, query: 'SELECT 1::bigint AS id, \'x\'::text AS name FROM pg_sleep(20)' },
      destination: { connection_id: conn, table: { name: 'slow_copy' }, mode: 'insert' },
      overlap: 'allow',
    },
  });
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push(await api(page, 'POST', `/api/jobs/${created.id}/runs`, {}));

  await nav(page, 'Queue');
  // The first run takes the only slot; the other two wait, numbered in start order.
  for (let tries = 0; tries < 20; tries++) {
    const q = await api(page, 'GET', '/api/queue');
    if (q.active_count === 1 && q.queued_count === 2) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await page.getByRole('button', { name: 'Refresh' }).click();
  await page.getByTestId('queue-active').filter({ hasText: '1 of 1' }).waitFor();
  await page.getByTestId('queue-waiting').filter({ hasText: '2' }).waitFor();
  const waiting = page.getByTestId('queue-waiting-table').getByTestId('queue-row');
  assert.equal(await waiting.count(), 2);
  assert.match(await waiting.nth(0).innerText(), /^1\s+Slow export\s+queued/);
  assert.match(await waiting.nth(1).innerText(), /^2\s+Slow export\s+queued/);
  assert.equal(await page.getByTestId('queue-active-table').getByTestId('queue-row').count(), 1);
  await screenshot(page, 'queue-with-runs');

  // Leave nothing running behind.
  for (const run of runs) await page.request.post(`/api/runs/${run.id}/cancel`);
  assert.deepEqual(page.errors, []);
  await admin.context.close();
});

/** Every mail to `to` in the test SMTP server's Maildir, newest first, with
 * quoted-printable undone. */
function mailsTo(to) {
  const dir = join(process.env.HAKOBU_E2E_MAILDIR ?? '', 'new');
  let files;
  try {
    files = readdirSync(dir).map((f) => join(dir, f));
  } catch {
    return [];
  }
  files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  const mails = [];
  for (const file of files) {
    const raw = readFileSync(file, 'utf8').replace(/\r\n/g, '\n');
    const [head, ...rest] = raw.split('\n\n');
    if (!new RegExp(`^To:.*${to.replace(/[.+]/g, '\\$&')}`, 'mi').test(head)) continue;
    let body = rest.join('\n\n');
    if (/content-transfer-encoding:\s*quoted-printable/i.test(head)) {
      body = body.replace(/=\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
    }
    mails.push({ head, body });
  }
  return mails;
}

async function waitForMails(to, count) {
  for (let i = 0; i < 100; i++) {
    const mails = mailsTo(to);
    if (mails.length >= count) return mails;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${count} mails to ${to} did not arrive`);
}

const confirmLink = (mail) => mail.body.match(/https?:\/\/\S+\/api\/notification-destinations\/confirm\?token=\S+/)[0];

test('an email destination waits for its confirmation link; once confirmed, the test message is mailed', { skip: !process.env.HAKOBU_E2E_MAILDIR && 'no local SMTP server (run through scripts/e2e.sh)' }, async () => {
  const admin = await owner();
  const { page } = admin;
  const address = uniqueEmail('oncall');
  await nav(page, 'Notifications');
  await page.getByLabel('Kind', { exact: true }).selectOption('email');
  await page.getByLabel('Destination name').fill('On-call email');
  await page.getByLabel('Email').fill(address);
  await page.getByRole('button', { name: 'Add a destination' }).click();
  const row = page.getByTestId('destination-row').filter({ hasText: 'On-call email' });
  await row.getByText('Waiting for confirmation').waitFor();
  assert.match(await row.innerText(), new RegExp(address.replace(/[.+]/g, '\\$&')));
  // Nothing goes to an address before it is confirmed, a test message neither.
  const test = row.getByRole('button', { name: 'Send test' });
  assert.equal(await test.isDisabled(), true);
  assert.match(await test.getAttribute('title'), /must be confirmed first/);
  await row.getByText('The address must be confirmed first: its owner follows the link in the confirmation email.').waitFor();
  const [first] = await waitForMails(address, 1);
  await screenshot(page, 'notifications-email-pending');

  // A new link replaces the first one.
  await row.getByRole('button', { name: 'Send the link again' }).click();
  await row.getByRole('button', { name: 'Link sent' }).waitFor();
  const [second] = await waitForMails(address, 2);
  assert.notEqual(confirmLink(first), confirmLink(second));
  const old = await newPerson(browser);
  await old.page.goto(confirmLink(first));
  await old.page.getByRole('heading', { name: 'Link not valid' }).waitFor();
  await old.context.close();

  // The owner of the address follows the link (in their own browser) and confirms.
  const reader = await newPerson(browser);
  await reader.page.goto(confirmLink(second));
  await reader.page.getByRole('heading', { name: 'Confirm this address' }).waitFor();
  await reader.page.getByRole('button', { name: 'Confirm' }).click();
  await reader.page.getByText(address).waitFor();
  await reader.context.close();

  await page.reload();
  await row.getByText('Confirmed').waitFor();
  await row.getByRole('button', { name: 'Send test' }).click();
  await row.getByTestId('test-result').filter({ hasText: 'Delivered to the mail server.' }).waitFor();
  const mails = await waitForMails(address, 3);
  assert.match(mails[0].head, /^Subject: .*Test message/mi);
  await screenshot(page, 'notifications-email-confirmed');
  assert.deepEqual(page.errors, []);
  await admin.context.close();
});
