import { QUEUE_MESSAGE_VERSION } from "../../src/queue-message";
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { loadRun } from "../../src/reconcile/runs";
import { startOrResumeRun } from "../../src/reconcile/start";
import { continueRun } from "../../src/reconcile/steps";
import { ScimRequestError, type ScimClient } from "../../src/providers/firstup/scim-client";
import { capturingQueue, countUserWrites, defaultReconcileConfig, drive, reconcile } from "../support/reconcile";
import { scimUser, upstreamTenant } from "../support/upstream";

/** Reconciliation against the real SCIM server, with real D1. */

const users = (n: number) => Array.from({ length: n }, (_, i) => scimUser(`u${String(i).padStart(4, "0")}`));
const userRow = (id: string) =>
  env.DB.prepare("SELECT email, active, forgotten_at FROM users WHERE provider = 'firstup' AND external_id = ?").bind(id).first<{ email: string | null; active: number; forgotten_at: number | null }>();
const count = async (where = "1 = 1") => (await env.DB.prepare(`SELECT count(*) AS n FROM users WHERE provider = 'firstup' AND ${where}`).first<{ n: number }>())?.n;
const pendingRemovals = async (runId: string) =>
  (await env.DB.prepare("SELECT external_id FROM reconcile_pending WHERE run_id = ? ORDER BY external_id").bind(runId).all<{ external_id: string }>()).results.map((row) => row.external_id);
const userPath = /\/Users\/([^/?]+)$/;
const pathOf = (input: RequestInfo | URL) => new URL(input instanceof Request ? input.url : String(input)).pathname;

/** A client whose listing leaves out `hidden` (as offset paging can), so the sweep must confirm each with GET. */
const hidingListing = (client: ScimClient, hidden: Set<string>): ScimClient => ({
  ...client,
  listUsers: async (start, count) => {
    const page = await client.listUsers(start, count);
    return { ...page, users: page.users.filter((user) => !hidden.has(user.id)) };
  },
});

describe("reconciliation", () => {
  const tenant = upstreamTenant("reconcile");

  beforeEach(async () => {
    await env.DB.exec("DELETE FROM users; DELETE FROM reconcile_runs; DELETE FROM reconcile_seen; DELETE FROM reconcile_pending; DELETE FROM work_claims;");
  });

  it("reads 250 users from a server capping count at 50, and writes them all", async () => {
    await tenant.reset({ users: users(250), quirks: { countCap: 50 } });
    const { run } = await reconcile(tenant);
    expect(run).toMatchObject({ status: "completed", scanned: 250, created: 250, updated: 0, unchanged: 0, deactivated: 0, forgotten: 0, errors: 0, upstreamTotal: 250 });
    expect(run.pages).toBe(5);
    expect(await count()).toBe(250);
    expect(await userRow("u0249")).toMatchObject({ email: "u0249@example.com", active: 1 });
    const scratch = await env.DB.prepare("SELECT (SELECT count(*) FROM reconcile_seen) + (SELECT count(*) FROM reconcile_pending) AS n").first<{ n: number }>();
    expect(scratch?.n).toBe(0);
  });

  it("a second run over an unchanged directory writes no user rows", async () => {
    await tenant.reset({ users: users(250), quirks: { countCap: 50 } });
    await reconcile(tenant);
    const userWrites = await countUserWrites();
    const { run } = await reconcile(tenant);
    expect(run).toMatchObject({ status: "completed", scanned: 250, created: 0, updated: 0, unchanged: 250, deactivated: 0, forgotten: 0 });
    expect(await userWrites()).toBe(0);
  });

  it("writes exactly the users that changed", async () => {
    await tenant.reset({ users: users(120) });
    await reconcile(tenant);
    await tenant.upsert(scimUser("u0007", { name: { givenName: "Renamed", familyName: "Family" }, meta: { lastModified: "2026-06-01T00:00:00Z" } }), scimUser("new-1"));
    const userWrites = await countUserWrites();
    const { run } = await reconcile(tenant);
    expect(run).toMatchObject({ created: 1, updated: 1, unchanged: 119 });
    expect(await userWrites()).toBe(2);
  });

  it("does not deactivate a user that a mid-scan deletion made the listing skip (confirmed with GET)", async () => {
    await tenant.reset({ users: users(250), quirks: { countCap: 50 } });
    await reconcile(tenant);
    // While page 2 is served, u0010 (already read on page 1) is deleted: every later user moves one
    // place up, so the user at position 101 (u0100) is never on any page of this scan.
    await tenant.setQuirks({ countCap: 50, deleteAfterListPage: { page: 2, userId: "u0010" } });
    const { run } = await reconcile(tenant);
    expect(run).toMatchObject({ status: "completed", scanned: 249, deactivated: 0, forgotten: 0 });
    expect(await userRow("u0100")).toMatchObject({ active: 1, forgotten_at: null });
    expect(await count("active = 1 AND forgotten_at IS NULL")).toBe(250);

    // The next night, u0010 is absent and GET says 404: it is forgotten, nobody else is touched.
    await tenant.setQuirks({ countCap: 50 });
    const next = await reconcile(tenant);
    expect(next.run).toMatchObject({ forgotten: 1, deactivated: 0 });
    expect(await userRow("u0010")).toMatchObject({ email: null, active: 0 });
    expect(await count("forgotten_at IS NULL")).toBe(249);
  });

  it("applies deactivations seen in the listing, and a forgotten user is not resurrected by a stale listing", async () => {
    await tenant.reset({ users: users(50) });
    await reconcile(tenant);
    await tenant.upsert(scimUser("u0003", { active: false, meta: { lastModified: "2026-06-01T00:00:00Z" } }));
    const { run } = await reconcile(tenant);
    expect(run).toMatchObject({ deactivated: 1, updated: 0 });
    expect(await userRow("u0003")).toMatchObject({ active: 0 });

    // u0004 is forgotten through a webhook, but a lagging upstream still lists it.
    await env.DB.prepare("UPDATE users SET email = NULL, forgotten_at = 1, active = 0 WHERE external_id = 'u0004'").run();
    await tenant.upsert(scimUser("u0004", { meta: { lastModified: "2026-07-01T00:00:00Z" } }));
    await reconcile(tenant);
    expect(await userRow("u0004")).toMatchObject({ email: null, active: 0, forgotten_at: 1 });
  });

  it("one clock: a change made upstream after a webhook's lookup is healed even when meta.lastModified lags (another machine's clock)", async () => {
    const { deliverBatch } = await import("../support/consumer");
    const { eventMessage } = await import("../support/directory");
    await tenant.reset({ users: [scimUser("u_clock", { name: { givenName: "Before", familyName: "X" } })] });
    const refresh = { provider: "firstup", eventId: "clock_1", occurredAt: Date.now(), sourceType: "user.updated", kind: "user_refresh" as const, externalId: "u_clock", reason: "updated" as const };
    await deliverBatch([eventMessage(refresh)], { env: tenant.env() });
    // The upstream renames the user, stamping a lastModified an hour in the past (a skewed clock).
    await tenant.upsert(scimUser("u_clock", { name: { givenName: "After", familyName: "X" }, meta: { resourceType: "User", lastModified: new Date(Date.now() - 3_600_000).toISOString() } }));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const { run } = await reconcile(tenant);
    expect(run).toMatchObject({ status: "completed", updated: 1 });
    expect(await env.DB.prepare("SELECT first_name FROM users WHERE provider = 'firstup' AND external_id = 'u_clock'").first()).toEqual({ first_name: "After" });
  });

  it("refuses to remove more than 10% of the directory in one run, and reports it", async () => {
    await tenant.reset({ users: users(100) });
    await reconcile(tenant);
    await tenant.remove(...users(20).map((user) => String(user.id)));
    const { run } = await reconcile(tenant);
    expect(run.status).toBe("guard_tripped");
    expect(run.forgotten).toBe(0);
    expect(run.note).toContain("Refused to remove 20 of 100 users");
    expect(await count("forgotten_at IS NULL AND active = 1")).toBe(100);

    const allowed = await reconcile(tenant, { config: { maxRemovalShare: 0.25 } });
    expect(allowed.run).toMatchObject({ status: "completed", forgotten: 20 });
    expect(await count("forgotten_at IS NULL")).toBe(80);
  });

  it("an erasure staged by the sweep loses to a webhook that saw the user present after the sweep's 404", async () => {
    const { deliverBatch } = await import("../support/consumer");
    const { eventMessage } = await import("../support/directory");
    await tenant.reset({ users: users(10) });
    await reconcile(tenant);
    await tenant.remove("u0003");
    const captured = capturingQueue();
    const clientFor = () => tenant.client();
    const config = { ...defaultReconcileConfig, maxRemovalShare: 1 };
    await startOrResumeRun({ d1: env.DB, queue: captured.queue, now: Date.now }, "firstup", "test");
    // Run every step up to (not including) finish: the sweep stages u0003's erasure.
    let message = captured.take();
    while (message && message.phase !== "finish") message = await continueRun(message, { d1: env.DB, clientFor, config, now: Date.now });
    expect(message?.phase).toBe("finish");
    // The user is re-provisioned, and a webhook's lookup observes them before the run finishes.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await tenant.upsert(scimUser("u0003"));
    const refresh = { provider: "firstup", eventId: "reprovisioned", occurredAt: Date.now(), sourceType: "user.updated", kind: "user_refresh" as const, externalId: "u0003", reason: "updated" as const };
    await deliverBatch([eventMessage(refresh)], { env: tenant.env() });
    await continueRun(message!, { d1: env.DB, clientFor, config, now: Date.now });
    expect(await userRow("u0003")).toMatchObject({ email: "u0003@example.com", forgotten_at: null });
  });

  it("an interrupted run resumes from its checkpoint instead of restarting", async () => {
    await tenant.reset({ users: users(250), quirks: { countCap: 50 } });
    const config = { ...defaultReconcileConfig, pagesPerMessage: 1 };
    const captured = capturingQueue();
    let clock = Date.now();
    const now = () => clock;
    const clientFor = () => tenant.client();
    const { run } = await startOrResumeRun({ d1: env.DB, queue: captured.queue, now }, "firstup", "test");
    await drive(captured, { clientFor, config, now }, 2);
    // The worker dies after committing page 2, before its next message is queued.
    captured.sent.length = 0;
    const interrupted = (await loadRun(env.DB, run.id))!;
    expect(interrupted).toMatchObject({ status: "running", pages: 2, scanned: 100, nextStartIndex: 101 });

    // A second start while it is still fresh does not fork it...
    expect((await startOrResumeRun({ d1: env.DB, queue: captured.queue, now }, "firstup", "test")).resumed).toBe(false);
    expect(captured.sent).toHaveLength(0);
    // ...once it has stalled, it is resumed at its checkpoint, and a duplicate of that message is harmless.
    clock += 11 * 60 * 1000;
    const resumed = await startOrResumeRun({ d1: env.DB, queue: captured.queue, now }, "firstup", "test");
    expect(resumed).toMatchObject({ started: false, resumed: true });
    expect(captured.sent).toEqual([{ v: QUEUE_MESSAGE_VERSION, kind: "reconcile", runId: run.id, phase: "scan", cursor: "101" }]);
    captured.sent.push({ ...captured.sent[0]! });
    await drive(captured, { clientFor, config, now }, 100);

    const finished = (await loadRun(env.DB, run.id))!;
    expect(finished).toMatchObject({ status: "completed", scanned: 250, created: 250, pages: 5 });
    expect(await count()).toBe(250);
  });

  it("an upstream failure after some pages of a step continues from the committed checkpoint, without stalling", async () => {
    await tenant.reset({ users: users(250), quirks: { countCap: 50 } });
    const { ScimRequestError } = await import("../../src/providers/firstup/scim-client");
    let calls = 0;
    const flaky = () => {
      const client = tenant.client();
      return {
        ...client,
        listUsers: async (start: number, count: number) => {
          if (++calls === 3) throw new ScimRequestError("unavailable", 503, "GET /Users: HTTP 503");
          return client.listUsers(start, count);
        },
      };
    };
    const captured = capturingQueue();
    const now = Date.now;
    const { run } = await startOrResumeRun({ d1: env.DB, queue: captured.queue, now }, "firstup", "test");
    const steps = await drive(captured, { clientFor: flaky, config: defaultReconcileConfig, now }, 100);
    const finished = (await loadRun(env.DB, run.id))!;
    expect(finished).toMatchObject({ status: "completed", scanned: 250, created: 250, errors: 1 });
    expect(finished.lastError).toContain("HTTP 503");
    expect(steps).toBeGreaterThan(2);
  });

  it("a run stalled for more than 24 hours is given up, and a new run can start", async () => {
    await tenant.reset({ users: users(10) });
    const captured = capturingQueue();
    let clock = Date.now();
    const now = () => clock;
    const { run } = await startOrResumeRun({ d1: env.DB, queue: captured.queue, now }, "firstup", "test");
    captured.sent.length = 0; // its first message is lost
    clock += 25 * 3600 * 1000;
    const { resumeStalledRuns } = await import("../../src/reconcile/start");
    expect(await resumeStalledRuns({ d1: env.DB, queue: captured.queue, now })).toEqual([]);
    const givenUp = (await loadRun(env.DB, run.id))!;
    expect(givenUp).toMatchObject({ status: "failed", phase: "done" });
    expect(givenUp.note).toContain("24 hours");
    expect(captured.sent).toEqual([]);
    const next = await startOrResumeRun({ d1: env.DB, queue: captured.queue, now }, "firstup", "test");
    expect(next.started).toBe(true);
  });

  it("rides out 429 with Retry-After during a run", async () => {
    await tenant.reset({ users: users(30), quirks: { throttle: { times: 2, retryAfterSeconds: 1 } } });
    const waits: number[] = [];
    const { run } = await reconcile(tenant, { sleep: async (ms) => void waits.push(ms) });
    expect(run).toMatchObject({ status: "completed", created: 30, errors: 0 });
    expect(waits).toEqual([1000, 1000]);
  });

  it("marks a run failed on a SCIM 401 (a configuration error), without retrying", async () => {
    await tenant.reset({ users: users(3), token: "rotated-token" });
    const { run } = await reconcile(tenant);
    expect(run).toMatchObject({ status: "failed", created: 0 });
    expect(run.lastError).toContain("check the SCIM token");
  });

  it("retries a step the upstream fails, then carries on from the same checkpoint", async () => {
    await tenant.reset({ users: users(40), quirks: { failures: { times: 4, status: 500 } } });
    const captured = capturingQueue();
    const now = Date.now;
    const { run } = await startOrResumeRun({ d1: env.DB, queue: captured.queue, now }, "firstup", "test");
    const message = captured.take()!;
    const deps = { d1: env.DB, clientFor: () => tenant.client({ sleep: async () => {} }), config: defaultReconcileConfig, now };
    const { continueRun } = await import("../../src/reconcile/steps");
    await expect(continueRun(message, deps)).rejects.toThrow(/HTTP 500/);
    expect(await loadRun(env.DB, run.id)).toMatchObject({ status: "running", errors: 1, nextStartIndex: 1 });
    captured.sent.push(message); // the queue redelivers it
    await drive(captured, { clientFor: deps.clientFor, config: deps.config, now }, 100);
    expect(await loadRun(env.DB, run.id)).toMatchObject({ status: "completed", created: 40, errors: 1 });
  });

  it("a sweep against a slow upstream stops at its wall-clock budget, checkpoints the last confirmed user, and the run still ends right", async () => {
    await tenant.reset({ users: users(40) });
    await reconcile(tenant);
    await tenant.remove("u0005", "u0012");
    const gets: string[] = [];
    const slowUpstream: typeof fetch = async (input, init) => {
      const id = userPath.exec(pathOf(input))?.[1];
      if (id) {
        gets.push(decodeURIComponent(id));
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
      return fetch(input, init);
    };
    const hidden = new Set(users(20).map((user) => String(user.id)));
    const deps = { d1: env.DB, clientFor: () => hidingListing(tenant.client({ fetch: slowUpstream }), hidden), config: defaultReconcileConfig, now: Date.now, stepBudgetMs: 100 };
    const captured = capturingQueue();
    const { run } = await startOrResumeRun({ d1: env.DB, queue: captured.queue, now: Date.now }, "firstup", "test");
    const sweep = (await continueRun(captured.take()!, deps))!;
    expect(sweep).toMatchObject({ phase: "sweep", cursor: "" });

    const next = await continueRun(sweep, deps);
    // Stopped early: some users confirmed, not all 20, and the checkpoint is the last one confirmed.
    expect(gets.length).toBeGreaterThan(0);
    expect(gets.length).toBeLessThan(20);
    expect(next).toEqual({ ...sweep, cursor: gets.at(-1) });
    expect(await loadRun(env.DB, run.id)).toMatchObject({ status: "running", phase: "sweep", sweepAfter: gets.at(-1) });
    expect(await pendingRemovals(run.id)).toEqual(["u0005", "u0012"].filter((id) => gets.includes(id)));

    captured.sent.push(next!);
    const steps = await drive(captured, deps, 100);
    expect(steps).toBeGreaterThan(1);
    // Every hidden user was confirmed exactly once, in order, and only the two gone are forgotten.
    expect(gets).toEqual([...hidden].sort());
    expect(await loadRun(env.DB, run.id)).toMatchObject({ status: "completed", forgotten: 2, deactivated: 0, created: 0 });
    expect(await count("forgotten_at IS NULL AND active = 1")).toBe(38);
    expect(await userRow("u0012")).toMatchObject({ email: null, active: 0 });
  });

  it("a scan against a slow upstream hands over at its wall-clock budget instead of reading every page of the step", async () => {
    await tenant.reset({ users: users(250), quirks: { countCap: 50 } });
    const slowUpstream: typeof fetch = async (input, init) => {
      await new Promise((resolve) => setTimeout(resolve, 40));
      return fetch(input, init);
    };
    const deps = { d1: env.DB, clientFor: () => tenant.client({ fetch: slowUpstream }), config: defaultReconcileConfig, now: Date.now, stepBudgetMs: 50 };
    const captured = capturingQueue();
    const { run } = await startOrResumeRun({ d1: env.DB, queue: captured.queue, now: Date.now }, "firstup", "test");
    const next = await continueRun(captured.take()!, deps);
    const afterOne = (await loadRun(env.DB, run.id))!;
    expect(afterOne.pages).toBeLessThan(defaultReconcileConfig.pagesPerMessage);
    expect(next).toMatchObject({ phase: "scan", cursor: String(afterOne.nextStartIndex) });

    captured.sent.push(next!);
    await drive(captured, deps, 100);
    expect(await loadRun(env.DB, run.id)).toMatchObject({ status: "completed", scanned: 250, created: 250, pages: 5 });
    expect(await count()).toBe(250);
  });

  it("an upstream failure partway through a sweep commits what was confirmed and carries on from there", async () => {
    await tenant.reset({ users: users(40) });
    await reconcile(tenant);
    await tenant.remove("u0001");
    const hidden = new Set(users(10).map((user) => String(user.id)));
    let gets = 0;
    const flaky = () => {
      const client = hidingListing(tenant.client(), hidden);
      return {
        ...client,
        getUser: async (id: string) => {
          if (++gets === 4) throw new ScimRequestError("unavailable", 503, "GET /Users/{id}: HTTP 503");
          return client.getUser(id);
        },
      };
    };
    const captured = capturingQueue();
    const { run } = await startOrResumeRun({ d1: env.DB, queue: captured.queue, now: Date.now }, "firstup", "test");
    await drive(captured, { clientFor: flaky, config: defaultReconcileConfig, now: Date.now }, 100);
    expect(await loadRun(env.DB, run.id)).toMatchObject({ status: "completed", forgotten: 1, errors: 1 });
    expect(gets).toBe(11); // ten users, one of them asked twice
    expect(await userRow("u0001")).toMatchObject({ email: null, active: 0 });
    expect(await count("forgotten_at IS NULL")).toBe(39);
  });

  it("a bare 404 on GET /Users/{id} (a gateway, a wrong path) fails the run and forgets nobody", async () => {
    await tenant.reset({ users: users(30) });
    await reconcile(tenant);
    await tenant.remove("u0003");
    const gateway: typeof fetch = async (input, init) =>
      userPath.test(pathOf(input)) ? new Response("<html>Not Found</html>", { status: 404, headers: { "content-type": "text/html" } }) : fetch(input, init);
    const { run } = await reconcile(tenant, { fetch: gateway });
    expect(run).toMatchObject({ status: "failed", phase: "done", forgotten: 0, deactivated: 0 });
    expect(run.lastError).toContain("without a SCIM error body");
    expect(run.note).toContain("nobody was deactivated or forgotten");
    expect(await userRow("u0003")).toMatchObject({ email: "u0003@example.com", active: 1, forgotten_at: null });
    expect(await pendingRemovals(run.id)).toEqual([]);
  });

  it("a listing answering 404 (a wrong base URL) fails the run at once and removes nobody", async () => {
    await tenant.reset({ users: users(10) });
    await reconcile(tenant);
    const wrongBase: typeof fetch = (input, init) => fetch(String(input).replace("/scim/v2/", "/scim/v2-typo/"), init);
    const { run, steps } = await reconcile(tenant, { fetch: wrongBase });
    expect(steps).toBe(1);
    expect(run).toMatchObject({ status: "failed", phase: "done", scanned: 0, forgotten: 0, deactivated: 0 });
    expect(run.lastError).toContain("HTTP 404");
    expect(await count("forgotten_at IS NULL AND active = 1")).toBe(10);
  });
});
