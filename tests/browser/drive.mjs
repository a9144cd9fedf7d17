// Drives Debian's Chromium (headless, through the DevTools protocol with puppeteer-core) for
// tests/browser.rs: loads pages from two origins served by the test and does what a web
// application does with S3 through stsgate. Reads the scenario (JSON) from the file named by its
// first argument and prints what the browser saw as one JSON line. Stops by itself (timeouts).
import { readFileSync } from 'node:fs';
import puppeteer from 'puppeteer-core';

const s = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const browser = await puppeteer.launch({
  executablePath: s.chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  protocolTimeout: 60000,
});
const out = {};
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(30000);
  const seen = [];
  page.on('console', (m) => seen.push(m.text()));
  await page.goto(s.allowedOrigin + '/');

  // A presigned GET fetched by the page (CORS allowed for this origin).
  out.get = await page.evaluate(async (url) => {
    const r = await fetch(url);
    return { status: r.status, text: await r.text(), etag: r.headers.get('etag') };
  }, s.presignedGet);

  // A refusal the page can read: the gateway's error carries the CORS headers too.
  out.refused = await page.evaluate(async (url) => {
    try {
      const r = await fetch(url);
      return { status: r.status, text: await r.text() };
    } catch (e) {
      return { error: String(e) };
    }
  }, s.tamperedGet);

  // A presigned PUT from the page (a preflight first: PUT is not a simple method).
  out.put = await page.evaluate(async (url, b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const r = await fetch(url, { method: 'PUT', body: bytes });
    return { status: r.status, etag: r.headers.get('etag') };
  }, s.presignedPut, s.putBase64);

  // The HTML form the application's server printed (signed for the session), with
  // success_action_redirect back to the page's origin; the file is chosen as a user would.
  await page.evaluate((html) => {
    document.body.innerHTML = html;
  }, s.form.html);
  const input = await page.$('input[type=file]');
  await input.uploadFile(s.form.file);
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.click('input[type=submit]'),
  ]);
  out.form = { landed: page.url() };

  // The same presigned GET from an origin no rule allows: the browser refuses to hand the
  // answer to the page.
  const other = await browser.newPage();
  await other.goto(s.otherOrigin + '/');
  out.otherOrigin = await other.evaluate(async (url) => {
    try {
      const r = await fetch(url);
      return { status: r.status, text: await r.text() };
    } catch (e) {
      return { error: String(e) };
    }
  }, s.presignedGet);
  out.console = seen;
} catch (e) {
  out.failure = String(e && e.stack || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
