/**
 * The console's browser tests, each in a fresh browser context (its own cookies). They read the
 * pages as an operator does, through the stable `data-testid` hooks, and compare what the pages
 * show with what run.ts seeded and with the JSON admin API.
 *
 * They share one Worker and run in this order: the ones that only read come before the replay and
 * the reconciliation run, which change what the overview and the event log show.
 */
import type { BrowserContext, Locator, Page, Response } from "playwright-core";
import { assert, assertEqual, eventually, VIEWPORT, type BrowserTest } from "./harness.ts";
import { adminJson, type Seeded, type Worker } from "./seed.ts";

export interface Fixture {
  url: string;
  adminToken: string;
  readToken: string;
  seeded: Seeded;
  worker: Worker;
  /** Where the README's screenshot of the overview is written. */
  overviewScreenshot: string;
}

interface EventJson {
  provider: string;
  event_id: string;
  status: string;
}

export function consoleTests(f: Fixture): BrowserTest[] {
  const { seeded } = f;
  const eventStatus = async (provider: string, eventId: string) =>
    (await adminJson<EventJson>(f.url, f.adminToken, `/admin/events/${encodeURIComponent(provider)}/${encodeURIComponent(eventId)}`)).status;
  const totalEvents = Object.values(seeded.counts).reduce((sum, n) => sum + n, 0);

  return [
    {
      name: "sign-in: a wrong token is refused, the admin token signs in",
      async run({ page, context, shot }) {
        await page.goto("/admin");
        assertPath(page, "/admin/sign-in", "without a session, /admin sends the browser to sign in");
        await shot("sign-in");

        await page.locator("#sign-in input[name=token]").fill("not-a-token");
        const refused = await submit(page, page.locator("#sign-in [type=submit]"), (url) => url.pathname === "/admin/sign-in");
        assertEqual(refused.status(), 401, "the answer to a wrong token");
        assertEqual(await page.getByTestId("error").getAttribute("data-code"), "invalid_token", "the sign-in error's code");
        assertEqual(await sessionCookie(context), undefined, "a session cookie after a wrong token");
        await shot("wrong-token");

        await signIn(page, f.adminToken);
        assertEqual(await text(page.getByTestId("role")), "Admin", "the role shown");
        const cookie = await sessionCookie(context);
        assert(cookie, "no session cookie after signing in");
        assert(cookie.httpOnly, "the session cookie is not HttpOnly");
        assertEqual(cookie.sameSite, "Strict", "the session cookie's SameSite");
        assertEqual(cookie.path, "/admin", "the session cookie's path");
        assert(!cookie.value.includes(f.adminToken), "the session cookie carries the token");
        const headers = (await page.request.get("/admin")).headers();
        assert(/script-src 'self'/.test(headers["content-security-policy"] ?? ""), "the console's CSP does not restrict scripts to its own origin");
        assert(/frame-ancestors 'none'/.test(headers["content-security-policy"] ?? ""), "the console's CSP allows framing");
        assertEqual(headers["x-frame-options"], "DENY", "X-Frame-Options");
      },
    },
    {
      name: "overview: health, the 24 h chart and the dead letters show the seeded numbers",
      async run({ page, shot }) {
        await signIn(page, f.adminToken);
        const checks = await page.getByTestId("health").locator("tr").evaluateAll((rows) =>
          rows.map((row) => [row.getAttribute("data-check"), row.querySelector('[data-testid="status"]')?.textContent?.trim()]),
        );
        for (const name of ["d1", "kv", "queue", "notify_queue", "upstream:firstup", "upstream:scalekit", "settings"]) {
          assertEqual(checks.find(([check]) => check === name)?.[1], "ok", `health check ${name}`);
        }

        // The chart's totals per status (legend) and in all (the SVG), against what was seeded.
        const totals = Object.fromEntries(
          await page.getByTestId("chart-total").evaluateAll((items) => items.map((item) => [item.getAttribute("data-status"), Number(item.getAttribute("data-total"))])),
        );
        assertEqual(JSON.stringify(sorted(totals)), JSON.stringify(sorted(seeded.counts)), "the chart's events per status over 24 h");
        assertEqual(Number(await page.getByTestId("events-chart").getAttribute("data-total")), totalEvents, "the chart's total");
        const bars = await page.getByTestId("events-chart").locator("rect").count();
        assert(bars >= Object.keys(seeded.counts).length, `the chart draws ${bars} bars for ${Object.keys(seeded.counts).length} statuses`);
        // The legend's text is what an operator reads; it says the same numbers.
        for (const [status, n] of Object.entries(seeded.counts)) {
          assertEqual(await text(page.locator(`[data-testid="chart-total"][data-status="${status}"]`)), `${status}: ${n}`, `the legend for ${status}`);
        }

        const deadLetters = await adminJson<{ dead_letters: unknown[] }>(f.url, f.adminToken, "/admin/dead-letters?limit=100");
        assertEqual(await text(page.getByTestId("dead-letter-count")), String(deadLetters.dead_letters.length), "the dead-letter count (JSON API)");
        assertEqual(await text(page.getByTestId("dead-letter-count")), "1", "the dead-letter count (seeded)");
        assertEqual(await text(page.getByTestId("dead-lettered-events")), String(seeded.counts.dead_lettered), "events still dead-lettered");

        const runs = await page.getByTestId("last-runs").getByTestId("run-row").evaluateAll((rows) =>
          rows.map((row) => [row.getAttribute("data-provider"), row.querySelector('[data-testid="status"]')?.textContent?.trim()]),
        );
        assertEqual(JSON.stringify(runs.sort()), JSON.stringify([["firstup", "never run"], ["scalekit", "never run"]]), "last run per provider");
        assert(await page.getByTestId("notifications").isVisible(), "no notifications panel");
        // run.ts set up one healthy subscription in the Firstup emulator.
        const firstup = page.getByTestId("firstup-subscription");
        assertEqual(await firstup.getByTestId("status").getAttribute("data-state"), "ok", "the Firstup subscription's state");
        assertEqual(await firstup.getByTestId("subscription-row").count(), 1, "Firstup subscriptions listed");

        await shot("overview");
        // The README's picture: the first screen only, at the 1280×800 viewport.
        await page.screenshot({ path: f.overviewScreenshot, clip: { x: 0, y: 0, ...VIEWPORT } });
      },
    },
    {
      name: "event log: filter by status and by provider, open an event with its error",
      async run({ page, shot }) {
        await signIn(page, f.adminToken);
        await page.getByRole("link", { name: "Event log" }).click();
        await page.waitForURL((url) => url.pathname === "/admin/console/events");
        assertEqual(await page.getByTestId("event-row").count(), totalEvents, "events listed unfiltered");
        await shot("all");

        for (const status of Object.keys(seeded.counts)) {
          const form = page.locator("#event-filter");
          await form.locator("select[name=status]").selectOption(status);
          await form.locator("input[name=provider]").fill("");
          await submit(page, form.locator("[type=submit]"), (url) => url.searchParams.get("status") === status);
          const shown = await statusCells(page, "event-row");
          assertEqual(shown.length, seeded.counts[status], `events listed with status=${status}`);
          assert(
            shown.every((cell) => cell === status),
            `status=${status} lists other statuses: ${shown.join(", ")}`,
          );
          if (status === "quarantined") await shot("status-quarantined");
        }

        for (const [provider, expected] of Object.entries(seeded.byProvider)) {
          const form = page.locator("#event-filter");
          await form.locator("select[name=status]").selectOption("");
          await form.locator("input[name=provider]").fill(provider);
          await submit(page, form.locator("[type=submit]"), (url) => url.searchParams.get("provider") === provider && !url.searchParams.get("status"));
          const providers = await page.getByTestId("event-row").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-provider")));
          assertEqual(providers.length, expected, `events listed with provider=${provider}`);
          assert(
            providers.every((shown) => shown === provider),
            `provider=${provider} lists others: ${providers.join(", ")}`,
          );
          if (provider === "firstup") await shot("provider-firstup");
        }

        // Both filters at once, then an event's detail: the quarantined one, with why.
        const form = page.locator("#event-filter");
        await form.locator("select[name=status]").selectOption("quarantined");
        await form.locator("input[name=provider]").fill("scalekit");
        await submit(page, form.locator("[type=submit]"), (url) => url.searchParams.get("status") === "quarantined" && url.searchParams.get("provider") === "scalekit");
        const row = page.getByTestId("event-row");
        assertEqual(await row.count(), seeded.counts.quarantined, "quarantined scalekit events");
        await row.first().getByRole("link").click();
        await page.waitForURL((url) => url.pathname.startsWith("/admin/console/events/scalekit/"));
        const detail = page.getByTestId("event-detail");
        assertEqual(await text(detail.getByTestId("status")), "quarantined", "the event's status");
        const error = await text(page.getByTestId("event-error"));
        assert(/email/.test(error), `the quarantined event's error does not name the bad field: ${error}`);
        await shot("event-detail");
      },
    },
    {
      name: "JavaScript off: every page reads, filters work",
      contextOptions: { javaScriptEnabled: false },
      async run({ page, shot }) {
        await signIn(page, f.adminToken);
        assertEqual(await text(page.getByTestId("dead-letter-count")), "1", "the dead-letter count");
        await page.goto("/admin/console/events");
        const form = page.locator("#event-filter");
        await form.locator("select[name=status]").selectOption("dead_lettered");
        await submit(page, form.locator("[type=submit]"), (url) => url.searchParams.get("status") === "dead_lettered");
        assertEqual(JSON.stringify(await statusCells(page, "event-row")), JSON.stringify(["dead_lettered"]), "dead-lettered events");
        await page.goto("/admin/console/dead-letters");
        assertEqual(await page.getByTestId("dead-letter-row").count(), 1, "dead letters listed");
        await page.goto("/admin/console/runs");
        await page.goto("/admin/console/directories");
        const directories = await adminJson<{ directories: { id: string }[] }>(f.url, f.adminToken, "/admin/directories");
        assertEqual(await page.getByTestId("directory-row").count(), directories.directories.length, "directories listed (JSON API)");
        assert(
          (await page.getByTestId("directory-row").allTextContents()).some((row) => row.includes(seeded.directoryId)),
          `the announced directory ${seeded.directoryId} is not listed`,
        );
        assertEqual(await page.locator(`[data-testid="connection-row"][data-connection-id="${seeded.connectionId}"]`).count(), 1, "the SCIM connection's row");
        await shot("directories");
      },
    },
    {
      name: "CSRF: a form with a tampered token is refused with the 403 page",
      async run({ page, context, shot }) {
        // At sign-in (login CSRF): the form's token must match its pre-session cookie.
        await page.goto("/admin/sign-in");
        await tamperCsrf(page.locator("#sign-in"));
        await page.locator("#sign-in input[name=token]").fill(f.adminToken);
        const signIn403 = await submit(page, page.locator("#sign-in [type=submit]"), (url) => url.pathname === "/admin/sign-in");
        assertEqual(signIn403.status(), 403, "a sign-in with a tampered token");
        assertEqual(await page.getByTestId("error").getAttribute("data-code"), "csrf_invalid", "the sign-in error's code");
        assertEqual(await sessionCookie(context), undefined, "a session cookie after a refused sign-in");
        await shot("sign-in-refused");

        // Signed in: replaying a dead letter with a tampered token changes nothing.
        await signIn(page, f.adminToken);
        await page.goto("/admin/console/dead-letters");
        const row = page.locator(`[data-testid="dead-letter-row"][data-message-id="${seeded.deadLetter.messageId}"]`);
        assertEqual(await text(row.getByTestId("status")), "dead_lettered", "the dead letter's event status before");
        await row.locator("input[name=id]").check();
        await tamperCsrf(page.locator("#dead-letters-form"));
        const replay403 = await submit(page, page.getByTestId("replay-selected"), (url) => url.pathname === "/admin/console/dead-letters/replay");
        assertEqual(replay403.status(), 403, "a replay with a tampered token");
        assertEqual(await page.getByTestId("error").getAttribute("data-code"), "csrf_invalid", "the error page's code");
        await shot("replay-refused");
        // Nothing was queued: the event is still dead-lettered after the queue's batch window.
        await new Promise((resolve) => setTimeout(resolve, 6_000));
        assertEqual(await eventStatus(seeded.deadLetter.provider, seeded.deadLetter.eventId), "dead_lettered", "the event after a refused replay");

        // Signing out with a tampered token does not sign out.
        await page.goto("/admin");
        await tamperCsrf(page.locator("#sign-out"));
        const signOut403 = await submit(page, page.locator("#sign-out [type=submit]"), (url) => url.pathname === "/admin/sign-out");
        assertEqual(signOut403.status(), 403, "a sign-out with a tampered token");
        await page.goto("/admin");
        assertPath(page, "/admin", "still signed in after a refused sign-out");
      },
    },
    {
      name: "viewer: a read token sees every page but no replay or start-run button",
      async run({ page, shot }) {
        await signIn(page, f.readToken);
        assertEqual(await text(page.getByTestId("role")), "Viewer (read-only)", "the role shown");
        assertEqual(await text(page.getByTestId("dead-letter-count")), "1", "the dead-letter count");

        await page.goto("/admin/console/dead-letters");
        const row = page.locator(`[data-testid="dead-letter-row"][data-message-id="${seeded.deadLetter.messageId}"]`);
        assertEqual(await text(row.getByTestId("status")), "dead_lettered", "the dead letter's event status");
        assertEqual(await page.getByTestId("replay-one").count(), 0, "row replay buttons for a viewer");
        assertEqual(await page.getByTestId("replay-selected").count(), 0, "the replay-selected button for a viewer");
        assertEqual(await page.locator("input[type=checkbox][name=id]").count(), 0, "selection checkboxes for a viewer");
        await shot("dead-letters");

        await page.goto(eventHref(seeded.deadLetter.provider, seeded.deadLetter.eventId));
        assertEqual(await text(page.getByTestId("event-detail").getByTestId("status")), "dead_lettered", "the event's status");
        assertEqual(await page.getByTestId("replay").count(), 0, "the event's replay button for a viewer");

        await page.goto("/admin/console/runs");
        assertEqual(await page.locator("#start-run").count(), 0, "the start-run form for a viewer");
        await shot("runs");

        // The same POST the admin's button sends, with the viewer's own valid CSRF token: 403.
        const csrf = await page.locator("#sign-out input[name=csrf]").inputValue();
        const refused = await postFromPage(page, "/admin/console/dead-letters/replay", { csrf, id: seeded.deadLetter.messageId });
        assertEqual(refused.status(), 403, "a viewer's replay");
        assertEqual(await page.getByTestId("error").getAttribute("data-code"), "insufficient_scope", "the error page's code");
        await shot("replay-refused");
        const start = await postFromPage(page, "/admin/console/runs", { csrf, provider: "firstup" });
        assertEqual(start.status(), 403, "a viewer's start of a run");
        assertEqual((await adminJson<{ runs: unknown[] }>(f.url, f.adminToken, "/admin/reconcile/runs")).runs.length, 0, "runs after a viewer's attempt");
      },
    },
    {
      name: "dead letters: replay one and watch its event apply",
      async run({ page, shot, dialogs }) {
        await signIn(page, f.adminToken);
        await page.getByRole("link", { name: "Dead letters" }).first().click();
        await page.waitForURL((url) => url.pathname === "/admin/console/dead-letters");
        const row = () => page.locator(`[data-testid="dead-letter-row"][data-message-id="${seeded.deadLetter.messageId}"]`);
        assertEqual(await text(row().getByTestId("status")), "dead_lettered", "the dead letter's event status before");
        await shot("before");

        await row().locator("input[name=id]").check();
        const replayed = await submit(page, page.getByTestId("replay-selected"), (url) => url.searchParams.has("notice"));
        assertEqual(replayed.status(), 303, "the replay's answer");
        assertEqual(dialogs.length, 1, "confirmations asked before replaying");
        assertEqual(await page.getByTestId("notice").getAttribute("data-code"), "replayed-1", "the notice");
        await shot("replayed");

        // The consumer takes it within its batch window (5 s); reload until the page says so.
        await eventually(
          "the dead letter's event to show as applied",
          async () => {
            await page.reload();
            return (await text(row().getByTestId("status"))) === "applied" ? true : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 1_000 },
        );
        await shot("applied");
        assertEqual(await eventStatus(seeded.deadLetter.provider, seeded.deadLetter.eventId), "applied", "the event's status (JSON API)");
        const user = await fetch(`${f.url}/v1/users/scalekit/${encodeURIComponent(seeded.deadLetter.userId)}`, { headers: { authorization: `Bearer ${f.adminToken}` } });
        assertEqual(user.status, 200, "the replayed event's user in /v1");

        // A row's own button replays that row alone; replaying an applied event again is harmless.
        await page.goto("/admin/console/dead-letters");
        await submit(page, row().getByTestId("replay-one"), (url) => url.searchParams.get("notice") === "replayed-1");
        assertEqual(dialogs.length, 2, "confirmations asked");
        assertEqual(await text(row().getByTestId("status")), "applied", "the event after replaying it again");

        await page.goto("/admin");
        assertEqual(await text(page.getByTestId("dead-lettered-events")), "0", "events still dead-lettered after the replay");
        assertEqual(
          await text(page.locator('[data-testid="chart-total"][data-status="applied"]')),
          `applied: ${seeded.counts.applied + 1}`,
          "applied events in the chart after the replay",
        );
      },
    },
    {
      name: "reconciliation: start a run from its page and read its report",
      async run({ page, shot }) {
        await signIn(page, f.adminToken);
        await page.getByRole("link", { name: "Reconciliation" }).click();
        await page.waitForURL((url) => url.pathname === "/admin/console/runs");
        await page.locator("#start-run select[name=provider]").selectOption("firstup");
        const started = await submit(page, page.getByTestId("start-run"), (url) => url.pathname.startsWith("/admin/console/runs/"));
        assertEqual(started.status(), 303, "the start's answer");
        assertEqual(await page.getByTestId("notice").getAttribute("data-code"), "started", "the notice");
        const runId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop()!);
        await shot("started");

        assertEqual(await runEnded(page, f), "completed", "how the run ended (its page says why otherwise)");
        await shot("completed");
        const report = await adminJson<Record<string, unknown>>(f.url, f.adminToken, `/admin/reconcile/runs/${encodeURIComponent(runId)}`);
        const scanned = await text(page.locator('[data-count="Resources scanned"]'));
        assertEqual(scanned, String(seeded.firstupUserIds.length), "resources scanned (the SCIM upstream's users)");
        assertEqual(JSON.stringify(report).includes(`"scanned":${scanned}`), true, `the JSON report's scanned count: ${JSON.stringify(report)}`);
        assertEqual(await text(page.locator('[data-count="Created"]')), "0", "users created (all came with their webhooks)");

        await page.goto("/admin/console/runs");
        assertEqual(await text(page.locator(`[data-testid="run-row"][data-run-id="${runId}"]`).getByTestId("status")), "completed", "the run in the list");
        await page.goto("/admin");
        assertEqual(await text(page.locator('[data-testid="last-runs"] [data-testid="run-row"][data-provider="firstup"]').getByTestId("status")), "completed", "the overview's last firstup run");
        await shot("overview");
      },
    },
    {
      name: "guard: a run that would remove most of a directory stops and says why",
      async run({ page, shot }) {
        // The Scalekit API (run.ts) lists one user in dir_browser; the webhooks made seven more there.
        await signIn(page, f.adminToken);
        await page.goto("/admin/console/runs");
        await page.locator("#start-run select[name=provider]").selectOption("scalekit");
        await submit(page, page.getByTestId("start-run"), (url) => url.pathname.startsWith("/admin/console/runs/"));
        assertEqual(await page.getByTestId("notice").getAttribute("data-code"), "started", "the notice");
        // Scalekit's run lists the directories and starts one run per enabled directory.
        const parent = await runEnded(page, f);
        assertEqual(parent, "completed", "how the directory listing run ended");
        await page.goto("/admin/console/runs");
        const child = page.getByTestId("run-row").filter({ hasText: seeded.directoryId });
        await eventually("the directory's own run in the list", async () => ((await child.count()) === 1 ? true : undefined), { timeoutMs: 20_000 });
        await child.getByRole("link").first().click();
        await page.waitForURL((url) => url.pathname.startsWith("/admin/console/runs/"));
        assertEqual(await runEnded(page, f), "guard_tripped", "how the directory's run ended");
        const reason = await text(page.getByTestId("guard-reason"));
        assert(/\d/.test(reason) && /remov|deactivat/i.test(reason), `the guard's reason gives no numbers: ${reason}`);
        assertEqual(await text(page.locator('[data-count="Deactivated"]')), "0", "users deactivated by a run whose guard tripped");
        await shot("guard-tripped");
        const users = await adminJson<{ users: { active: boolean }[] }>(f.url, f.adminToken, "/v1/users?provider=scalekit&limit=100");
        assert(users.users.length > 0 && users.users.every((user) => user.active), "a user was deactivated although the guard tripped");
      },
    },
    {
      name: "sign-out: the session ends and /admin asks to sign in again",
      async run({ page, context, shot }) {
        await signIn(page, f.adminToken);
        await submit(page, page.locator("#sign-out [type=submit]"), (url) => url.pathname === "/admin/sign-in");
        assertEqual(await sessionCookie(context), undefined, "the session cookie after signing out");
        await shot("signed-out");
        await page.goto("/admin");
        assertPath(page, "/admin/sign-in", "/admin after signing out");
        await page.goto("/admin/console/dead-letters");
        assertPath(page, "/admin/sign-in", "a console page after signing out");
      },
    },
  ];
}

/**
 * Reloads a run's page until its status is no longer `running`; returns that status. A run takes a
 * queue batch window (5 s) per step; on timeout the message says where the run stopped.
 */
async function runEnded(page: Page, f: Fixture): Promise<string> {
  const runId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop()!);
  return eventually(
    "the run to end",
    async () => {
      await page.reload();
      const shown = await text(page.getByTestId("run-detail").getByTestId("status"));
      return shown === "running" ? undefined : shown;
    },
    { timeoutMs: 60_000, intervalMs: 1_000 },
  ).catch(async (error: Error) => {
    const run = await adminJson<{ phase: string; checkpoint: unknown }>(f.url, f.adminToken, `/admin/reconcile/runs/${encodeURIComponent(runId)}`);
    throw new Error(`${error.message}; run ${runId} is at phase ${run.phase}, checkpoint ${JSON.stringify(run.checkpoint)}`);
  });
}

/** Signs in through the form and waits for the overview. */
async function signIn(page: Page, token: string): Promise<void> {
  await page.goto("/admin/sign-in");
  await page.locator("#sign-in input[name=token]").fill(token);
  await submit(page, page.locator("#sign-in [type=submit]"), (url) => url.pathname === "/admin");
}

/**
 * Clicks a form's submit button and waits until the browser is at `arrived`: returns the answer to
 * the POST (or GET) itself, before any redirect, so a 303 and a 403 can be told apart.
 */
async function submit(page: Page, button: Locator, arrived: (url: URL) => boolean): Promise<Response> {
  const answered = page.waitForResponse((response) => response.request().isNavigationRequest() && response.request().frame() === page.mainFrame());
  await button.click();
  const response = await answered;
  await page.waitForURL(arrived);
  await page.waitForLoadState("load");
  return response;
}

/** Submits a form built in the page (same origin, as a browser would send it) with these fields. */
async function postFromPage(page: Page, action: string, fields: Record<string, string>): Promise<Response> {
  const answered = page.waitForResponse((response) => response.request().isNavigationRequest() && response.request().method() === "POST");
  await page.evaluate(
    ({ action, fields }) => {
      const form = document.createElement("form");
      form.method = "post";
      form.action = action;
      for (const [name, value] of Object.entries(fields)) {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        input.value = value;
        form.append(input);
      }
      document.body.append(form);
      form.submit();
    },
    { action, fields },
  );
  const response = await answered;
  await page.waitForURL((url) => url.pathname === action);
  await page.waitForLoadState("load");
  return response;
}

/** Changes one character of the form's hidden CSRF value, as a forged or stale form would carry. */
async function tamperCsrf(form: Locator): Promise<void> {
  await form.locator("input[name=csrf]").evaluate((input: HTMLInputElement) => {
    const last = input.value.at(-1) === "A" ? "B" : "A";
    input.value = input.value.slice(0, -1) + last;
  });
}

async function statusCells(page: Page, rowTestId: string): Promise<string[]> {
  return page.getByTestId(rowTestId).evaluateAll((rows) => rows.map((row) => row.querySelector('[data-testid="status"]')?.textContent?.trim() ?? ""));
}

async function text(locator: Locator): Promise<string> {
  return ((await locator.textContent()) ?? "").trim();
}

function sorted(record: Record<string, number>): [string, number][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1));
}

function eventHref(provider: string, eventId: string): string {
  return `/admin/console/events/${encodeURIComponent(provider)}/${encodeURIComponent(eventId)}`;
}

function assertPath(page: Page, expected: string, what: string): void {
  assertEqual(new URL(page.url()).pathname, expected, what);
}

async function sessionCookie(context: BrowserContext) {
  return (await context.cookies()).find((cookie) => cookie.name === "console_session");
}
