/**
 * `npm run test:browser`: the operator console driven in real Chromium (Debian's package at
 * /usr/bin/chromium, through playwright-core; nothing is downloaded). Starts a local SCIM upstream
 * and a Scalekit Directory API in this process, a real `wrangler dev` on 127.0.0.1:8781 with its
 * own state, seeds it through signed deliveries, then runs the console tests (console.ts), saving
 * screenshots under test/browser/artifacts/ and the overview's as docs/console-overview.png.
 *
 * Ends with one line of its own, "Browser tests: N passed, N failed", which .ci/run adds to its
 * summary; exits 1 on any failure. Without Chromium it fails when CI or REQUIRE_BROWSER=1 is set,
 * and otherwise skips loudly (exit 0).
 */
import { cpSync, rmSync } from "node:fs";
import { join } from "node:path";
import { startLocalWorker } from "../../scripts/local-worker.ts";
import { scimUser, startScimServer } from "../support/scim-server.ts";
import { scalekitUser, startScalekitApi } from "../support/scalekit-api.ts";
import { consoleTests, type Fixture } from "./console.ts";
import { chromiumAvailable, CHROMIUM_PATH, cleanArtifacts, launchBrowser, runTests } from "./harness.ts";
import { seed } from "./seed.ts";

/** No other test or benchmark uses this port (bench: 8790-8799, npm start: 8787, upstreams: 8788-8789). */
const PORT = 8781;
/** wrangler dev's state, inside the snapshot's directory (snapshotSources). */
const STATE = ".wrangler/browser-state";
const ADMIN_TOKEN = "browser-admin-token";
const READ_TOKEN = "browser-read-token";
const SCIM_TOKEN = "browser-scim-token";
const FIRSTUP_API_TOKEN = "browser-firstup-read-token";
const SCALEKIT_CLIENT = { id: "skc_browser_client", secret: "browser-scalekit-client-secret" };
const ROOT = join(import.meta.dirname, "..", "..");
/**
 * The README shows it. Committed, so a run rewrites it only when asked (UPDATE_DOCS_SCREENSHOT=1):
 * otherwise it goes with the other artifacts, and a plain `npm test` leaves the work tree clean.
 */
const OVERVIEW_SCREENSHOT = process.env.UPDATE_DOCS_SCREENSHOT === "1" ? join(ROOT, "docs", "console-overview.png") : join(ROOT, "test", "browser", "artifacts", "console-overview.png");
const FIRSTUP_USERS = ["fu-browser-0001", "fu-browser-0002", "fu-browser-0003"];

const started = Date.now();
const required = Boolean(process.env.CI) || process.env.REQUIRE_BROWSER === "1";
if (!chromiumAvailable()) {
  const message = `No Chromium at ${CHROMIUM_PATH} (install Debian's: apt-get install -y --no-install-recommends chromium).`;
  if (required) {
    console.error(`Browser tests: FAILED. ${message}`);
    console.log("Browser tests: 0 passed, 1 failed");
    process.exit(1);
  }
  console.error(`\n!!! BROWSER TESTS SKIPPED !!! ${message}\n!!! CI sets REQUIRE_BROWSER=1 and fails instead.\n`);
  console.log("Browser tests: skipped (no Chromium)");
  process.exit(0);
}

cleanArtifacts();
const stops: (() => unknown)[] = [];
let exitCode = 1;
try {
  console.log("Browser tests: starting the upstreams and wrangler dev…");
  const scim = await startScimServer(0);
  stops.push(scim.close);
  await control(`${scim.url}/t/browser/__control`, { token: SCIM_TOKEN, users: FIRSTUP_USERS.map((id) => scimUser(id)) });
  // Firstup's webhook subscription API on the same host: one subscription delivering the user
  // events to this Worker, which the overview's Firstup panel reads with a webhooks.read token.
  await control(`${scim.url}/t/browser/__control/webhooks`, {
    tokens: { [FIRSTUP_API_TOKEN]: ["webhooks.read"] },
    subscriptions: [
      {
        name: "directory-sync",
        url: `http://127.0.0.1:${PORT}/webhooks/firstup`,
        active: true,
        events: ["user.updated", "user.deactivated", "user.deleted"].map((name) => ({ name, version: "1" })),
      },
    ],
  });
  const scalekit = await startScalekitApi(0);
  stops.push(scalekit.close);
  await control(`${scalekit.url}/t/browser/__control`, {
    clientId: SCALEKIT_CLIENT.id,
    clientSecret: SCALEKIT_CLIENT.secret,
    organizations: [{ id: "org_browser", display_name: "Browser Org" }],
    directories: [{ id: "dir_browser", organization_id: "org_browser", enabled: true, directory_provider: "OKTA", directory_type: "SCIM" }],
    users: [scalekitUser("diruser_browser_0001", "dir_browser")],
  });

  // wrangler dev serves a copy of the Worker's sources taken now: an edit under src/ during the run
  // would make it reload the Worker and drop the queue messages in flight (a replay, a run's step).
  process.chdir(snapshotSources());
  const worker = await startLocalWorker({
    port: PORT,
    state: STATE,
    fresh: true,
    vars: {
      ADMIN_TOKEN,
      READ_TOKENS: READ_TOKEN,
      FIRSTUP_SCIM_URL: `${scim.url}/t/browser/scim/v2`,
      FIRSTUP_SCIM_TOKEN: SCIM_TOKEN,
      // FIRSTUP_API_URL stays empty: it defaults to FIRSTUP_SCIM_URL's host, as on Firstup's own.
      FIRSTUP_API_TOKEN,
      SCALEKIT_ENVIRONMENT_URL: `${scalekit.url}/t/browser`,
      SCALEKIT_CLIENT_ID: SCALEKIT_CLIENT.id,
      SCALEKIT_CLIENT_SECRET: SCALEKIT_CLIENT.secret,
    },
  });
  stops.push(worker.stop);
  console.log(`Browser tests: wrangler dev at ${worker.url} (${((Date.now() - started) / 1000).toFixed(1)} s); seeding…`);

  const seeded = await seed(worker, ADMIN_TOKEN, FIRSTUP_USERS);
  console.log(`Browser tests: seeded (${((Date.now() - started) / 1000).toFixed(1)} s); launching Chromium…`);

  const browser = await launchBrowser();
  stops.push(() => browser.close());
  const fixture: Fixture = { url: worker.url, adminToken: ADMIN_TOKEN, readToken: READ_TOKEN, seeded, worker, overviewScreenshot: OVERVIEW_SCREENSHOT };
  const summary = await runTests(browser, worker.url, consoleTests(fixture));
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`Browser tests: screenshots in test/browser/artifacts/ (${seconds} s in all)`);
  console.log(`Browser tests: ${summary.passed} passed, ${summary.failed} failed`);
  exitCode = summary.failed === 0 && summary.passed > 0 ? 0 : 1;
} catch (error) {
  console.error(`Browser tests: the harness failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  console.log("Browser tests: 0 passed, 1 failed");
} finally {
  // Reverse order: the browser, then wrangler dev, then the upstreams it reads.
  for (const stop of stops.reverse()) {
    // Bounded: a server still holding a keep-alive connection must not hang the run.
    await Promise.race([Promise.resolve().then(stop).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
  }
}
process.exit(exitCode);

/**
 * Copies what `wrangler dev` builds and reads (the Worker's sources, its migrations and settings)
 * into .wrangler/browser-snapshot/ and returns that directory. Inside the project, so packages
 * still resolve from its node_modules.
 */
function snapshotSources(): string {
  const snapshot = join(ROOT, ".wrangler", "browser-snapshot");
  rmSync(snapshot, { recursive: true, force: true });
  for (const path of ["src", "migrations", "wrangler.toml", "tsconfig.json", "package.json", ".dev.vars.example"]) {
    cpSync(join(ROOT, path), join(snapshot, path), { recursive: true });
  }
  return snapshot;
}

async function control(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`seeding ${url} answered ${response.status}`);
}
