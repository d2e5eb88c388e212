// A file source in the wizard: the organization's files folder on the server holds a
// semicolon-separated CSV; "Find files" lists the matching files, "Guess columns" fills the
// format, the delimiter and the columns from the first one, and the next step previews its
// rows, a quoted delimiter included. The buttons read in Japanese too.
//
// scripts/e2e.sh gives the app a files root (HAKOBU_LOCAL_FILES_ROOT) and tells the tests
// where it is (HAKOBU_E2E_FILES_ROOT); each organization's folder is <root>/<organization id>.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, newPerson, signUp, uniqueEmail, unique, screenshot, nav, api } from './helpers.js';

const ROOT = process.env.HAKOBU_E2E_FILES_ROOT;

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('find files and guess their columns in the wizard, then preview them', async () => {
  assert.ok(ROOT, 'HAKOBU_E2E_FILES_ROOT is set by scripts/e2e.sh');
  const { context, page } = await newPerson(browser);
  await signUp(page, { org: unique('Files Co'), name: 'Fumi Owner', email: uniqueEmail('fumi') });
  const me = await api(page, 'GET', '/api/me');
  const exports = join(ROOT, me.organization_id, 'in', 'exports');
  mkdirSync(exports, { recursive: true });
  writeFileSync(join(exports, 'orders_1.csv'),
    'id;customer;amount;ordered_at\n1;Chen;12.50;2026-12-01 09:00:00\n2;"Okafor; Ltd";7.25;2026-12-01 10:30:00\n');
  writeFileSync(join(exports, 'notes.txt'), 'not a match');
  await api(page, 'POST', '/api/connections', {
    name: 'Exports', kind: 'local_files', team_id: me.teams[0].team_id, settings: { directory: 'in' },
  });

  await nav(page, 'Jobs');
  await page.getByRole('link', { name: 'New job' }).click();
  await page.getByRole('heading', { name: 'Step 1: Source' }).waitFor();
  await page.getByLabel('Source connection').selectOption({ label: 'Exports (Files on the Hakobu server)' });
  await page.locator('#job-settings-source-files-path_prefix').fill('exports/');
  await page.locator('#job-settings-source-files-path_match_pattern').fill('\\.csv$');

  await page.getByRole('button', { name: 'Find files' }).click();
  const found = page.getByTestId('files-found');
  await found.getByText('exports/orders_1.csv').waitFor();
  assert.equal(await found.locator('li').count(), 1, 'notes.txt does not match');

  await page.getByRole('button', { name: 'Guess columns' }).click();
  await page.getByTestId('guessed-from').getByText('exports/orders_1.csv').waitFor();
  assert.equal(await page.locator('#job-settings-source-files-delimiter').inputValue(), ';');
  const names = await page.locator('.columns-editor input[id$="-name"]').evaluateAll((inputs) => inputs.map((i) => i.value));
  assert.deepEqual(names, ['id', 'customer', 'amount', 'ordered_at']);
  const types = await page.locator('.columns-editor select[id$="-type"]').evaluateAll((selects) => selects.map((s) => s.value));
  assert.equal(types[0], 'long');
  assert.equal(types[1], 'string');
  assert.equal(types[3], 'timestamp');
  await screenshot(page, 'wizard-file-guess');

  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('heading', { name: 'Step 2: Preview and columns' }).waitFor();
  await page.getByTestId('preview').getByText('Okafor; Ltd').waitFor();

  await page.getByRole('button', { name: 'Back' }).click();
  await page.getByLabel('Language').selectOption('ja');
  await page.getByRole('button', { name: 'ファイルを探す' }).waitFor();
  await page.getByRole('button', { name: '列を推測' }).waitFor();
  await screenshot(page, 'wizard-file-guess-ja');

  assert.deepEqual(page.errors, []);
  await context.close();
});
