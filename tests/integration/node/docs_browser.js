// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) on the stack's /docs and /redoc, for
// tests/integration/test_docs_browser.py:
//
//   node docs_browser.js '{"chromium": PATH, "host": NAME, "port": PORT, "out": DIR, "username": U, "password": P,
//                          "me": {"tag": T, "operationId": ID, "summary": S}}'
//
// prints one JSON object: per page, what was rendered (operations, their paths, whether GET /auth/me is visible,
// the screenshot's path), every console error, page error, failed request and HTTP error; and what Swagger UI's
// Authorize + "Try it out" on the operation `me` did. The Python test judges it; this script exits non-zero only
// on its own breakage.
//
// The pages are opened as http://NAME:PORT, NAME a made-up host name that Chromium's resolver maps to
// 127.0.0.1, so they are seen as on any server (localhost is special to browsers and to Swagger UI).
// No network beyond loopback, twice over: the resolver knows no other host (--host-resolver-rules), and every
// request the browser makes is intercepted, recorded as offsite and aborted when it is for any other host, so
// the test fails on it even if the resolver rule ever stopped working.
"use strict";
const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const opts = JSON.parse(process.argv[2]);
const BASE = `http://${opts.host}:${opts.port}`;
// opts.host is mapped to 127.0.0.1 below: every allowed name is loopback
const LOCAL = new Set(["127.0.0.1", "localhost", "[::1]", opts.host]);

function isLocal(url) {
  const u = new URL(url);
  if (u.protocol === "data:" || u.protocol === "blob:") return true; // in-page, never the network
  return LOCAL.has(u.hostname);
}

// Records what a page reports: console errors (CSP violations are), uncaught exceptions, failed requests and
// HTTP errors (requests to other hosts are the context's route below).
function watch(page, report) {
  page.on("console", (m) => {
    if (m.type() === "error") report.console_errors.push(`${m.text()} @ ${m.location().url || "?"}`);
  });
  page.on("pageerror", (e) => report.page_errors.push(String(e && e.stack ? e.stack : e)));
  page.on("requestfailed", (r) => {
    if (isLocal(r.url())) report.failed_requests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400) report.http_errors.push(`${r.request().method()} ${r.url()}: ${r.status()}`);
  });
}

function newReport(url) {
  return { url, console_errors: [], page_errors: [], failed_requests: [], http_errors: [] };
}

async function swagger(context, report) {
  const page = await context.newPage();
  watch(page, report);
  await page.goto(BASE + "/docs", { waitUntil: "load" });
  await page.locator(".opblock").first().waitFor({ timeout: 30000 });
  report.operations = await page.locator(".opblock").count();
  report.paths = await page.locator(".opblock .opblock-summary-path").allInnerTexts();
  report.summaries = await page.locator(".opblock .opblock-summary-description").allInnerTexts();
  const me = page.locator(`#operations-${opts.me.tag}-${opts.me.operationId}`);
  report.me_visible = await me.isVisible();
  report.screenshot = path.join(opts.out, "docs.png");
  await page.screenshot({ path: report.screenshot });

  // Authorize with the OAuth2 password flow: Swagger UI posts the form to the tokenUrl itself.
  const auth = (report.authorize = { token_requests: [], me_requests: [] });
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.pathname === "/api/v1/auth/login/access-token") {
      auth.token_requests.push({ method: r.method(), content_type: r.headers()["content-type"] || "",
                                 body: r.postData() || "" });
    } else if (u.pathname === "/api/v1/auth/me") {
      auth.me_requests.push({ method: r.method(), authorization: r.headers()["authorization"] || "" });
    }
  });
  page.on("response", async (r) => {
    if (new URL(r.url()).pathname === "/api/v1/auth/login/access-token") auth.token_status = r.status();
  });
  await page.locator("button.authorize").first().click();
  const dialog = page.locator(".dialog-ux .modal-ux");
  await dialog.waitFor();
  const oauth = dialog.locator(".auth-container").filter({ hasText: "oauth2Password" });
  await oauth.locator("#oauth_username").fill(opts.username);
  await oauth.locator("#oauth_password").fill(opts.password);
  await oauth.locator("button.authorize").click();
  // Authorized: the section then offers Logout instead of Authorize.
  await oauth.locator("button", { hasText: "Logout" }).waitFor({ timeout: 15000 });
  auth.dialog_errors = await oauth.locator(".errors").allInnerTexts();
  await page.screenshot({ path: path.join(opts.out, "docs-authorized.png") });
  await dialog.locator("button.close-modal").click();

  await me.locator(".opblock-summary").first().click();
  await me.locator("button.try-out__btn").click();
  await me.locator("button.execute").click();
  const status = me.locator(".live-responses-table .response .response-col_status").first();
  await status.waitFor({ timeout: 15000 });
  auth.me_status = (await status.innerText()).trim();
  auth.me_body = await me.locator(".live-responses-table .response-col_description pre").first().innerText();
  report.authorize_screenshot = path.join(opts.out, "docs-try-it-out.png");
  await me.screenshot({ path: report.authorize_screenshot });
  await page.close();
}

async function redoc(context, report) {
  const page = await context.newPage();
  watch(page, report);
  await page.goto(BASE + "/redoc", { waitUntil: "load" });
  // One section per operation, id "tag/<tag>/operation/<operationId>"; the menu lists the same.
  const ops = page.locator('[data-section-id*="/operation/"]');
  await ops.first().waitFor({ state: "attached", timeout: 30000 });
  report.section_ids = await ops.evaluateAll((els) => els.map((e) => e.getAttribute("data-section-id")));
  report.operations = new Set(report.section_ids).size;
  report.menu_items = await page.locator('li[data-item-id*="/operation/"]').count();
  const me = page.locator(`[data-section-id="tag/${opts.me.tag}/operation/${opts.me.operationId}"] h2`);
  await me.scrollIntoViewIfNeeded();
  report.me_visible = await me.isVisible();
  // ReDoc searches in its web worker (a blob: URL): results prove that the worker runs under the CSP.
  const search = page.locator('input[placeholder="Search..."]');
  await search.fill(opts.me.summary);
  const found = page.locator(`[data-role="search:results"] li[data-item-id="tag/${opts.me.tag}/operation/${opts.me.operationId}"]`);
  await found.waitFor({ timeout: 10000 });
  report.search_found_me = await found.count();
  await search.fill("");
  await page.evaluate(() => window.scrollTo(0, 0));
  report.screenshot = path.join(opts.out, "redoc.png");
  await page.screenshot({ path: report.screenshot });
  await page.close();
}

async function main() {
  fs.mkdirSync(opts.out, { recursive: true });
  const profile = fs.mkdtempSync(path.join(opts.out, "profile-"));
  const offsite = [];
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: opts.chromium,   // Debian's: never a browser download of playwright's
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           `--host-resolver-rules=MAP ${opts.host} 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost`],
  });
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (isLocal(url)) return route.continue();
    offsite.push(url);
    return route.abort("blockedbyclient");
  });
  const out = { offsite, docs: newReport("/docs"), redoc: newReport("/redoc") };
  try {
    for (const [name, fn] of [["docs", swagger], ["redoc", redoc]]) {
      try {
        await fn(context, out[name]);
      } catch (e) {
        out[name].error = String(e && e.stack ? e.stack : e);
      }
    }
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(2);
});
