// Japanese and English: the browser's language is the default, the switch changes every
// string, and dates and numbers follow the language.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newPerson, signUp, uniqueEmail, screenshot } from './helpers.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Latin-script words left in the page, apart from names that stay as they are. */
async function englishWords(page, allowed) {
  const text = await page.locator('body').innerText();
  const words = text.match(/[A-Za-z]{2,}/g) ?? [];
  return words.filter((w) => !allowed.includes(w));
}

test('a Japanese browser gets Japanese by default', async () => {
  const { context, page } = await newPerson(browser, { locale: 'ja-JP' });
  await page.goto('/signin');
  await page.getByRole('heading', { name: 'Hakobu にログイン' }).waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'ja');
  await screenshot(page, 'signin-ja');
  await context.close();
});

test('the language switch changes every visible string of the shell and dashboard', async () => {
  const { context, page } = await newPerson(browser);
  // Japanese names, so what remains in Latin script can only be untranslated UI text.
  const org = '株式会社サンプル';
  await signUp(page, { org, name: '山田花子', email: uniqueEmail('hanako') });
  await page.getByText('Welcome, 山田花子.').waitFor();

  await page.getByLabel('Language').selectOption('ja');
  await page.getByRole('heading', { name: 'ダッシュボード' }).waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'ja');
  // "Hakobu" is the product's name; "English" names the other choice in the switch, in
  // its own language, as language switches do; "Default" is the name the server gives the
  // first team of a new organization (data, not UI text); "API" is written so in Japanese.
  const left = await englishWords(page, ['Hakobu', 'English', 'Default', 'API']);
  assert.deepEqual(left, [], `untranslated: ${left.join(', ')}`);
  await page.getByText('時刻はお使いのタイムゾーン（日本標準時）で表示しています。').waitFor();
  await screenshot(page, 'dashboard-ja');

  // The choice sticks across a reload.
  await page.reload();
  await page.getByRole('heading', { name: 'ダッシュボード' }).waitFor();

  // Dates follow the language: Japanese year/month/day on the teams page.
  await page.getByRole('link', { name: 'チーム', exact: true }).click();
  const created = await page.locator('time').first().innerText();
  assert.match(created, /^\d{4}年\d{1,2}月\d{1,2}日/);
  await screenshot(page, 'teams-ja');

  // And back to English.
  await page.getByLabel('表示言語').selectOption('en');
  await page.getByRole('heading', { name: 'Teams' }).waitFor();
  assert.match(await page.locator('time').first().innerText(), /^[A-Z][a-z]{2} \d{1,2}, \d{4}/);
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('every page of the shell is in Japanese, apart from data', async () => {
  const { context, page } = await newPerson(browser, { locale: 'ja-JP' });
  await page.goto('/signup');
  await page.getByLabel('組織名').fill('株式会社テスト');
  await page.getByLabel('お名前').fill('佐藤太郎');
  await page.getByLabel('メールアドレス').fill(uniqueEmail('taro'));
  await page.getByLabel('パスワード').fill('correct horse battery staple');
  await page.getByRole('button', { name: '組織を作成する' }).click();
  await page.getByTestId('dashboard-org').waitFor();
  await page.getByText('デフォルト').first().waitFor();
  const pages = [
    ['メンバー', 'members-ja'],
    ['チーム', 'teams-list-ja'],
    ['API トークン', 'tokens-ja'],
    ['監査ログ', 'audit-ja'],
    ['アカウント', 'account-ja'],
    ['接続', 'connections-ja'],
    ['通知', 'notifications-ja'],
    ['スケジュール', 'schedules-ja'],
    ['実行キュー', 'queue-ja'],
  ];
  for (const [link, shot] of pages) {
    await page.getByRole('navigation').getByRole('link', { name: new RegExp(`^${link}`) }).click();
    await page.getByRole('heading', { level: 1, name: link }).waitFor();
    await page.waitForFunction(() => !document.querySelector('.loading'));
    await screenshot(page, shot);
    // Emails and machine codes (audit actions, token prefixes) are data; everything else
    // must be Japanese.
    const text = await page.evaluate(() => {
      // Hidden through each element's style object: the Content-Security-Policy refuses
      // an added <style> element, as it would any injected one.
      const data = [...document.querySelectorAll('code, .lang-switch')];
      const before = data.map((el) => el.style.getPropertyValue('display'));
      data.forEach((el) => el.style.setProperty('display', 'none', 'important'));
      const visible = document.body.innerText;
      data.forEach((el, i) => el.style.setProperty('display', before[i]));
      return visible.replace(/[\w.+-]+@[\w.-]+/g, '');
    });
    // JST is how Intl writes the zone in Japanese dates; CSV is a file type; the audit
    // filter's hints quote the action codes it takes (team.create, user, invitation).
    // Slack and Webhook are the names of the notification kinds; URL stays URL. The first
    // team was named in Japanese by the Japanese sign-up form, so "Default" is not allowed.
    const allowed = ['Hakobu', 'API', 'JST', 'CSV', 'team', 'create', 'user', 'invitation', 'Slack', 'Webhook', 'URL'];
    const words = (text.match(/[A-Za-z]{2,}/g) ?? []).filter((w) => !allowed.includes(w));
    assert.deepEqual(words, [], `${link}: ${words.join(', ')}`);
  }
  assert.deepEqual(page.errors, []);
  await context.close();
});
