import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { DirectoryEvent } from "../../src/events";
import { deliverBatch } from "../support/consumer";
import { signInConsole, type ConsoleClient } from "../support/console";
import { errorCodeOf, noticeOf, rowsOf } from "../support/console-html";
import { eventMessage, events } from "../support/directory";
import { eventually } from "../support/eventually";
import { capturingQueue, defaultReconcileConfig, drive } from "../support/reconcile";
import { scimUser, upstreamTenant } from "../support/upstream";

/**
 * The console's actions, through the app with a real session: dead letters made by the real
 * consumers are replayed one at a time and many at once (through the real Queue) and the page shows
 * them applied; a reconciliation run is started against a real local SCIM upstream and its report
 * read, including why its guard tripped; viewers see no buttons and their POSTs change nothing.
 */

const deadLetterRows = async (client: ConsoleClient) => {
  const response = await client.get("/admin/console/dead-letters");
  expect(response.status).toBe(200);
  const html = await response.text();
  return { html, rows: rowsOf(html, "dead-letter-row") };
};
const statusOf = (rows: ReturnType<typeof rowsOf>, messageId: string) => rows.find((row) => row.attributes["data-message-id"] === messageId)?.status;

let admin: ConsoleClient;
let viewer: ConsoleClient;

beforeAll(async () => {
  admin = await signInConsole();
  viewer = await signInConsole({ token: "viewer-token", overrides: { READ_TOKENS: "viewer-token" } });
});

describe("dead letters page", () => {
  const tenant = upstreamTenant("console-dead-letters");

  it("a Firstup event that failed in the consumer and was dead-lettered is replayed by its row's button, then applied and shown so", async () => {
    await tenant.reset({ users: [scimUser("u_console_1", { userName: "console.one@example.com" })] });
    const event: DirectoryEvent = {
      provider: "firstup",
      eventId: "fu_console_1",
      occurredAt: Date.parse("2026-06-01T00:00:00Z"),
      sourceType: "user.updated",
      kind: "user_refresh",
      externalId: "u_console_1",
      reason: "updated",
    };
    const message = eventMessage(event);
    // The consumer fails it (no upstream configured at the time) and asks the Queue to retry...
    const failed = await deliverBatch([message], { env: { ...env, FIRSTUP_SCIM_URL: "" }, attempts: 3 });
    expect(failed.result.retryMessages).toHaveLength(1);
    // ...which, out of retries, hands it to the dead-letter queue's consumer.
    const { ids } = await deliverBatch([message], { queue: "directory-events-dlq" });
    const messageId = ids[0]!;

    const before = await deadLetterRows(admin);
    expect(statusOf(before.rows, messageId)).toBe("dead_lettered");
    expect(before.html).toContain(`name="id" value="${messageId}"`);
    expect(before.html).toContain(`name="only" value="${messageId}"`);

    const captured = capturingQueue();
    const replayer = await signInConsole({ overrides: { EVENTS_QUEUE: captured.queue } });
    const replay = await replayer.post("/admin/console/dead-letters/replay", { only: messageId });
    expect(replay.status).toBe(303);
    expect(replay.headers.get("location")).toBe("/admin/console/dead-letters?notice=replayed-1");
    expect(captured.sent).toEqual([message]);
    // The upstream is configured again; the consumer applies the replayed message.
    const applied = await deliverBatch(captured.sent, { env: tenant.env() });
    expect(applied.result.explicitAcks).toHaveLength(1);

    const after = await admin.get(replay.headers.get("location")!);
    const html = await after.text();
    expect(noticeOf(html)).toEqual({ code: "replayed-1", text: expect.stringContaining("Replayed 1 dead letter:") });
    expect(statusOf(rowsOf(html, "dead-letter-row"), messageId)).toBe("applied");
    expect(await env.DB.prepare("SELECT user_name FROM users WHERE provider = 'firstup' AND external_id = 'u_console_1'").first()).toEqual({
      user_name: "console.one@example.com",
    });
  });

  it("Replay selected replays every checked dead letter through the real Queue; the ones that cannot be replayed are counted", async () => {
    const users = ["dl_many_1", "dl_many_2", "dl_many_3"].map((id) => events.userUpserted(id, Date.parse("2026-06-02T00:00:00Z")));
    const good = await deliverBatch(users.map((event) => eventMessage(event)), { queue: "directory-events-dlq" });
    const undecodable = await deliverBatch([{ v: 99, kind: "from_the_future" }], { queue: "directory-events-dlq" });
    const before = await deadLetterRows(admin);
    for (const id of good.ids) expect(statusOf(before.rows, id)).toBe("dead_lettered");

    const replay = await admin.post("/admin/console/dead-letters/replay", { id: [...good.ids, undecodable.ids[0]!, "msg_gone", good.ids[0]!] });
    expect(replay.status).toBe(303);
    // Three replayed; the undecodable one and an unknown id could not be (the repeated id counts once).
    expect(replay.headers.get("location")).toBe("/admin/console/dead-letters?notice=replayed-3-failed-2");

    // The Worker's own queue consumer applies them; the page shows each row's new status.
    const after = await eventually(
      () => deadLetterRows(admin),
      (page) => good.ids.every((id) => statusOf(page.rows, id) === "applied"),
    );
    for (const id of good.ids) expect(statusOf(after.rows, id)).toBe("applied");
    expect(statusOf(after.rows, undecodable.ids[0]!)).toBe("—");
    const created = await env.DB.prepare("SELECT external_id FROM users WHERE external_id LIKE 'dl_many_%' ORDER BY external_id").all();
    expect(created.results).toEqual([{ external_id: "dl_many_1" }, { external_id: "dl_many_2" }, { external_id: "dl_many_3" }]);
  });

  it("refuses more than 100 in one POST (400 too_many_selected, nothing sent); nothing selected is a notice", async () => {
    const captured = capturingQueue();
    const replayer = await signInConsole({ overrides: { EVENTS_QUEUE: captured.queue } });
    const tooMany = await replayer.post("/admin/console/dead-letters/replay", { id: Array.from({ length: 101 }, (_, i) => `msg_${i}`) });
    expect(tooMany.status).toBe(400);
    expect(errorCodeOf(await tooMany.text())).toBe("too_many_selected");
    const none = await replayer.post("/admin/console/dead-letters/replay", {});
    expect(none.headers.get("location")).toBe("/admin/console/dead-letters?notice=nothing-selected");
    expect(captured.sent).toEqual([]);
  });

  it("a viewer sees the rows and their status but no checkbox or button; a viewer's POST is 403", async () => {
    const { html, rows } = await deadLetterRows(viewer);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((row) => row.status !== null)).toBe(true);
    expect(html).not.toContain('name="id"');
    expect(html).not.toContain('data-testid="replay-selected"');
    expect(html).not.toContain('data-testid="replay-one"');
    const response = await viewer.post("/admin/console/dead-letters/replay", { id: rows[0]!.attributes["data-message-id"]! });
    expect(response.status).toBe(403);
    expect(errorCodeOf(await response.text())).toBe("insufficient_scope");
  });

  it("a forged notice is not shown: only replayed-<n> with small numbers", async () => {
    for (const notice of ["replayed-abc", "replayed-999", "<script>", "replayed-1-failed-200"]) {
      const html = await (await admin.get(`/admin/console/dead-letters?notice=${encodeURIComponent(notice)}`)).text();
      expect(noticeOf(html), notice).toBeNull();
    }
  });
});

describe("reconciliation pages", () => {
  const tenant = upstreamTenant("console-runs");
  const users = (n: number) => Array.from({ length: n }, (_, i) => scimUser(`cr_${String(i).padStart(3, "0")}`));
  const config = { ...defaultReconcileConfig };

  /** An admin session whose bindings point Firstup's upstream at this tenant and keep what is queued. */
  async function operator() {
    const captured = capturingQueue();
    const client = await signInConsole({ overrides: { FIRSTUP_SCIM_URL: tenant.url, FIRSTUP_SCIM_TOKEN: tenant.token, EVENTS_QUEUE: captured.queue } });
    return { client, captured, run: () => drive(captured, { clientFor: () => tenant.client(), config, now: Date.now }, 1000) };
  }

  it("starts a run against the local upstream from the form; it shows on the runs page with its counts", async () => {
    await env.DB.exec("DELETE FROM reconcile_runs; DELETE FROM users WHERE provider = 'firstup';");
    await tenant.reset({ users: users(30) });
    const { client, captured, run } = await operator();

    const page = await (await client.get("/admin/console/runs")).text();
    expect(page).toContain('<form id="start-run" method="post" action="/admin/console/runs"');
    expect(page).toContain('<option value="firstup">firstup</option>');
    // Scalekit's upstream is not configured in the tests' bindings: listed, not startable.
    expect(page).toMatch(/<option value="scalekit" disabled="">scalekit \(upstream not configured\)<\/option>/);

    const start = await client.post("/admin/console/runs", { provider: "firstup" });
    expect(start.status).toBe(303);
    const location = start.headers.get("location")!;
    const [, runId] = /^\/admin\/console\/runs\/([^?]+)\?notice=started$/.exec(location) ?? [];
    expect(runId).toBeTruthy();
    expect(captured.sent).toHaveLength(1);

    // A second start while it runs is taken to the same run.
    const again = await client.post("/admin/console/runs", { provider: "firstup" });
    expect(again.headers.get("location")).toBe(`/admin/console/runs/${runId}?notice=already-running`);

    await run();
    const list = await (await client.get("/admin/console/runs")).text();
    const rows = rowsOf(list, "run-row");
    expect(rows.map((row) => row.attributes["data-run-id"])).toEqual([runId]);
    expect(rows[0]!.status).toBe("completed");
    expect(rows[0]!.html).toMatch(/<td class="num">30<\/td>/);

    const detail = await client.get(`/admin/console/runs/${runId}?notice=started`);
    const html = await detail.text();
    expect(noticeOf(html)?.code).toBe("started");
    expect(html).toMatch(/data-count="Created">30</);
    expect(html).toMatch(/data-count="Resources scanned">30</);
    expect(html).not.toContain('data-testid="guard-reason"');
  });

  it("a run whose guard tripped says why on its page", async () => {
    // 28 of the 30 users vanish upstream: far more than 10% of the directory in one run.
    await tenant.reset({ users: users(2) });
    const { client, run } = await operator();
    const start = await client.post("/admin/console/runs", { provider: "firstup" });
    const location = start.headers.get("location")!;
    expect(location).toMatch(/\?notice=started$/);
    await run();

    const list = rowsOf(await (await client.get("/admin/console/runs")).text(), "run-row");
    expect(list.map((row) => row.status)).toEqual(["guard_tripped", "completed"]);
    const html = await (await client.get(location.replace(/\?.*$/, ""))).text();
    expect(html).toContain('data-testid="guard-reason"');
    expect(html).toContain("Refused to remove 28 of 30 users (more than 10% in one run)");
    expect(html).toMatch(/data-count="Deactivated">0</);
    expect(html).toMatch(/data-count="Forgotten">0</);
  });

  it("an unconfigured provider starts nothing; a viewer has no form and a viewer's POST is 403", async () => {
    const { client, captured } = await operator();
    const refused = await client.post("/admin/console/runs", { provider: "scalekit" });
    expect(refused.headers.get("location")).toBe("/admin/console/runs?notice=provider-not-configured");
    const invalid = await client.post("/admin/console/runs", {});
    expect(invalid.status).toBe(400);
    expect(captured.sent).toEqual([]);

    const page = await (await viewer.get("/admin/console/runs")).text();
    expect(rowsOf(page, "run-row").length).toBe(2);
    expect(page).not.toContain('id="start-run"');
    const response = await viewer.post("/admin/console/runs", { provider: "firstup" });
    expect(response.status).toBe(403);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM reconcile_runs").first()).toEqual({ n: 2 });
  });

  it("404 for an unknown run", async () => {
    const response = await admin.get("/admin/console/runs/nope");
    expect(response.status).toBe(404);
    expect(errorCodeOf(await response.text())).toBe("not_found");
  });
});
