import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { hourOf } from "../../src/consumer/pipeline-hourly";
import { UPSTREAM_PROBE_CACHE_MS } from "../../src/operator/health";
import { deliverBatch } from "../support/consumer";
import { CONSOLE_BASE, consoleClient, signInConsole, type ConsoleClient } from "../support/console";
import { callApp } from "../support/worker";
import { decodeHtml, rowsOf } from "../support/console-html";
import { countingD1 } from "../support/d1";
import { eventMessage, events } from "../support/directory";
import { eventually } from "../support/eventually";
import { scalekitEvent, scalekitUser } from "../support/scalekit";
import { signedHeaders } from "../support/sign";
import { upstreamTenant } from "../support/upstream";

/**
 * GET /admin, the overview, on numbers seeded the real way: signed webhooks through the Worker and
 * the real Queue and consumer (applied, ignored), the consumer on a failing D1 (failed), the
 * dead-letter queue's consumer (dead letters), and reconciliation runs' report rows.
 */

const APPLIED = 6;
const IGNORED = 2;

async function postWebhook(body: unknown) {
  const text = JSON.stringify(body);
  const response = await exports.default.fetch("https://sync.example.com/webhooks/scalekit", { method: "POST", body: text, headers: await signedHeaders(text) });
  expect(response.status).toBe(202);
}

const usersDown = () => countingD1(env.DB, (statements) => (statements.some((sql) => sql.includes("INSERT INTO users")) ? new Error("D1_ERROR: simulated outage") : undefined));

/** A section of the page by its data-testid. */
function section(html: string, testId: string): string {
  const match = new RegExp(`<(section|p|svg)[^>]*data-testid="${testId}"[^>]*>([\\s\\S]*?)</\\1>`).exec(html);
  if (!match) throw new Error(`no ${testId} on the page`);
  return match[0];
}

const chartTotals = (html: string) => Object.fromEntries([...html.matchAll(/data-testid="chart-total" data-status="([a-z_]+)" data-total="(\d+)"/g)].map((m) => [m[1], Number(m[2])]));

let admin: ConsoleClient;
let upstream: ReturnType<typeof upstreamTenant>;

beforeAll(async () => {
  await env.DB.exec("DELETE FROM pipeline_hourly; DELETE FROM event_log; DELETE FROM dead_letters; DELETE FROM reconcile_runs;");
  // Through the Worker and the real Queue: APPLIED users created, IGNORED events of a type Scalekit
  // adapters do not handle.
  for (let i = 0; i < APPLIED; i++) await postWebhook(scalekitEvent("user_created", scalekitUser({ id: `ov_user_${i}`, email: `ov.user.${i}@company.com` })));
  for (let i = 0; i < IGNORED; i++) await postWebhook({ ...scalekitEvent("user_created", {}), type: "organization.created" });
  await eventually(
    async () => (await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE status IN ('applied', 'ignored')").first<{ n: number }>())!.n,
    (n) => n === APPLIED + IGNORED,
  );
  // Three events that failed (D1 refusing the users write), two of which then dead-lettered.
  const failing = [0, 1, 2].map((i) => eventMessage(events.userUpserted(`ov_failing_${i}`, 1_000)));
  await deliverBatch(failing, { env: { ...env, DB: usersDown().db } });
  await deliverBatch(failing.slice(0, 2), { queue: "directory-events-dlq" });
  // Reports of finished runs: an older and the latest of firstup, one of scalekit.
  const now = Date.now();
  await env.DB.prepare(
    `INSERT INTO reconcile_runs (id, provider, status, phase, trigger, scope, started_at, updated_at, finished_at, created, updated, deactivated, forgotten, note)
     VALUES ('run_ov_old', 'firstup', 'completed', 'done', 'cron', '', ?1, ?1, ?1, 100, 100, 100, 0, NULL),
            ('run_ov_new', 'firstup', 'guard_tripped', 'done', 'manual', '', ?2, ?2, ?2, 3, 17, 0, 0, 'would deactivate 60% of the directory'),
            ('run_ov_sk', 'scalekit', 'completed', 'done', 'hourly', 'dir_1', ?2, ?2, ?2, 1, 2, 4, 1, NULL)`,
  )
    .bind(now - 86_400_000, now - 60_000)
    .run();
  upstream = upstreamTenant("console-overview");
  await upstream.reset({ users: [] });
  admin = await signInConsole({ overrides: { FIRSTUP_SCIM_URL: upstream.url, FIRSTUP_SCIM_TOKEN: upstream.token } });
});

describe("the overview", () => {
  it("draws the last 24 hours from the consumer's counters: an SVG with a title, totals per status, and a table of every hour", async () => {
    const html = await (await admin.get("/admin")).text();
    const svg = section(html, "events-chart");
    expect(svg).toMatch(/^<svg [^>]*role="img"[^>]*aria-labelledby="events-chart-title events-chart-desc"/);
    expect(svg).toContain('<title id="events-chart-title">Events per hour by status, last 24 hours</title>');
    expect(chartTotals(html)).toEqual({ applied: APPLIED, ignored: IGNORED, failed: 3, dead_lettered: 2 });
    expect(svg).toContain(`data-total="${APPLIED + IGNORED + 3 + 2}"`);
    expect(decodeHtml(svg)).toContain(`${APPLIED + IGNORED + 5} events in the last 24 hours: ${APPLIED} applied, ${IGNORED} ignored, 3 failed, 2 dead_lettered.`);
    // One bar segment per status this hour, with its own tooltip.
    const thisHour = new Date(hourOf(Date.now())).toISOString().slice(0, 16).replace("T", " ");
    expect(decodeHtml(svg)).toContain(`${thisHour} UTC: ${APPLIED} applied`);
    expect(svg.match(/<rect /g)).toHaveLength(4);
    // The table fallback: 24 hours, the current one with the numbers.
    const table = /<details class="data">([\s\S]*?)<\/details>/.exec(html)![1]!;
    expect(table.match(/<tr><th scope="row">/g)).toHaveLength(24);
    expect(table).toContain(`<th scope="row">${thisHour} UTC</th><td class="num">${APPLIED}</td><td class="num">${IGNORED}</td><td class="num">3</td><td class="num">2</td>`);
  });

  it("counts dead letters, and the events still dead-lettered", async () => {
    const html = await (await admin.get("/admin")).text();
    expect(section(html, "dead-letter-count")).toContain('data-count="2" data-capped="false">2</p>');
    expect(html).toContain('data-testid="dead-lettered-events">2</strong>');
  });

  it("shows the last run per provider with its drift (created, updated, deactivated), and why a guard tripped", async () => {
    const html = await (await admin.get("/admin")).text();
    const rows = rowsOf(section(html, "last-runs"), "run-row");
    expect(rows.map((row) => [row.attributes["data-provider"], row.attributes["data-run-id"], row.status])).toEqual([
      ["scalekit", "run_ov_sk", '<a href="/admin/console/runs/run_ov_sk">completed</a>'],
      ["firstup", "run_ov_new", '<a href="/admin/console/runs/run_ov_new">guard_tripped</a>'],
    ]);
    const cell = (row: (typeof rows)[number], field: string) => new RegExp(`data-field="${field}">(\\d+)<`).exec(row.html)?.[1];
    expect(["created", "updated", "deactivated", "forgotten"].map((field) => cell(rows[1]!, field))).toEqual(["3", "17", "0", "0"]);
    expect(["created", "updated", "deactivated", "forgotten"].map((field) => cell(rows[0]!, field))).toEqual(["1", "2", "4", "1"]);
    expect(rows[1]!.html).toContain("would deactivate 60% of the directory");
  });

  it("health: D1, KV, both queues, and each upstream probed (no URL or token on the page when one fails)", async () => {
    const statusOf = (html: string, check: string) => new RegExp(`<tr data-check="${check}">[\\s\\S]*?data-testid="status"[^>]*>([^<]*)`).exec(section(html, "health"))?.[1];
    const html = await (await admin.get("/admin")).text();
    expect(["d1", "kv", "queue", "notify_queue", "upstream:firstup", "upstream:scalekit", "settings"].map((check) => statusOf(html, check))).toEqual([
      "ok",
      "ok",
      "ok",
      "ok",
      "ok",
      "not configured",
      "ok",
    ]);

    // A wrong upstream token: an error with a stable code, and nothing secret.
    const wrongToken = { FIRSTUP_SCIM_URL: upstream.url, FIRSTUP_SCIM_TOKEN: "wrong-scim-token-value" };
    const requestsBefore = (await upstream.stats()).requests;
    const probes = async () => (await upstream.stats()).requests - requestsBefore;
    // signInConsole loads the overview once; this is the second load.
    const refused = await signInConsole({ overrides: wrongToken });
    const refusedHtml = await (await refused.get("/admin")).text();
    expect(statusOf(refusedHtml, "upstream:firstup")).toBe("error");
    expect(section(refusedHtml, "health")).toContain('data-code="scim_unauthorized"');
    expect(refusedHtml).not.toContain("wrong-scim-token-value");
    expect(refusedHtml).not.toContain(upstream.url);
    // Two loads within UPSTREAM_PROBE_CACHE_MS: one probe request (no retries), the answer reused.
    // (The cache is keyed by the settings: the right token's "ok" above was not reused for it.)
    expect(await probes()).toBe(1);
    // Once it has aged out (the request's clock, injected), the next load probes again, and that
    // answer is reused in turn.
    const at = (ms: number) => consoleClient((request) => callApp(request, wrongToken, { now: () => ms }), CONSOLE_BASE, refused.cookie, refused.csrf);
    const expired = Date.now() + UPSTREAM_PROBE_CACHE_MS;
    const laterHtml = await (await at(expired).get("/admin")).text();
    expect(statusOf(laterHtml, "upstream:firstup")).toBe("error");
    expect(await probes()).toBe(2);
    await (await at(expired + UPSTREAM_PROBE_CACHE_MS - 1).get("/admin")).text();
    expect(await probes()).toBe(2);

    // Nothing listening: unreachable, again without the URL.
    const closed = await signInConsole({ overrides: { FIRSTUP_SCIM_URL: "http://127.0.0.1:9/scim/v2", FIRSTUP_SCIM_TOKEN: "t" } });
    const closedHtml = await (await closed.get("/admin")).text();
    expect(statusOf(closedHtml, "upstream:firstup")).toBe("error");
    expect(closedHtml).not.toContain("127.0.0.1:9");
  });

  it("notifications: off without APP_WEBHOOK_URL; on, with the endpoint's origin only (its path and query may hold a token)", async () => {
    const off = await (await admin.get("/admin")).text();
    expect(section(off, "notifications")).toContain('data-state="not_configured"');
    const on = await signInConsole({
      overrides: { APP_WEBHOOK_URL: "https://app.example.com/hooks/directory?token=s3cr3t-in-query", APP_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" },
    });
    const html = await (await on.get("/admin")).text();
    const panel = section(html, "notifications");
    expect(panel).toContain('data-state="on"');
    expect(panel).toContain("https://app.example.com");
    expect(html).not.toContain("s3cr3t-in-query");
    expect(html).not.toContain("/hooks/directory");
    expect(panel).toContain('data-testid="notifications-pending">0<');
  });

  it("leaves a Firstup subscription panel on the page", async () => {
    const html = await (await admin.get("/admin")).text();
    expect(html).toContain('data-testid="firstup-subscription"');
  });
});
