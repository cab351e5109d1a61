import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { scalekit } from "../../src/providers/scalekit/adapter";
import { recentRuns } from "../../src/reconcile/runs";
import { startOrResumeRun } from "../../src/reconcile/start";
import { continueRun } from "../../src/reconcile/steps";
import type { ReconcileConfig } from "../../src/config";
import { deliverBatch } from "../support/consumer";
import { eventMessage } from "../support/directory";
import { capturingQueue, countUserWrites, defaultReconcileConfig } from "../support/reconcile";
import { signedDelivery } from "../support/scalekit";
import type { Quirks, StoredGroup, StoredUser } from "../support/scalekit-api";
import { scalekitEnvironment, scalekitUser } from "../support/scalekit-environment";

/**
 * Scalekit reconciliation against the local Scalekit Directory API (a real HTTP server speaking
 * the documented routes, with offset page tokens that shift when users are removed mid-listing),
 * through the real run machinery and D1.
 */

const ORG = "org_acme";
const DIR = "dir_acme";
const noSleep = async () => {};
const ids = (n: number, prefix = "dirusr_") => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, "0")}`);
const people = (n: number, overrides: Partial<StoredUser> = {}) => ids(n).map((id) => scalekitUser(id, DIR, overrides));
const group = (id: string, name: string): StoredGroup => ({ id, directory_id: DIR, display_name: name });
const tenant = (users: StoredUser[], extra: { groups?: StoredGroup[]; enabled?: boolean; quirks?: Quirks } = {}) => ({
  organizations: [{ id: ORG, display_name: "Acme" }],
  directories: [{ id: DIR, organization_id: ORG, enabled: extra.enabled ?? true }],
  users,
  groups: extra.groups ?? [],
  quirks: extra.quirks ?? {},
});

/** Runs a Scalekit reconciliation to the end, as the queue would: discovery, then each directory's run. */
async function reconcileScalekit(
  environment: ReturnType<typeof scalekitEnvironment>,
  options: { trigger?: string; config?: Partial<ReconcileConfig>; now?: () => number; clientOptions?: Parameters<ReturnType<typeof scalekitEnvironment>["client"]>[0] } = {},
) {
  const captured = capturingQueue();
  const now = options.now ?? Date.now;
  const config = { ...defaultReconcileConfig, pageSize: 10, ...options.config };
  const client = environment.client({ sleep: noSleep, ...options.clientOptions });
  const { run: discovery } = await startOrResumeRun({ d1: env.DB, queue: captured.queue, now }, "scalekit", options.trigger ?? "test");
  let steps = 0;
  for (let message = captured.take(); message && steps < 2000; message = captured.take()) {
    steps++;
    const next = await continueRun(message, { d1: env.DB, queue: captured.queue, clientFor: () => client, config, now });
    if (next) captured.sent.push(next);
  }
  const runs = await recentRuns(env.DB, "scalekit", 50);
  return { discovery: runs.find((run) => run.id === discovery.id)!, directoryRun: runs.find((run) => run.scope === DIR && run.startedAt >= discovery.startedAt) ?? null, steps };
}

const user = (id: string) =>
  env.DB.prepare("SELECT email, first_name, active, deleted_at, directory_id, user_name, scim_external_id FROM users WHERE provider = 'scalekit' AND external_id = ?")
    .bind(id)
    .first<{ email: string | null; first_name: string | null; active: number; deleted_at: number | null; directory_id: string | null; user_name: string | null; scim_external_id: string | null }>();
const liveCount = async () => (await env.DB.prepare("SELECT count(*) AS n FROM users WHERE provider = 'scalekit' AND deleted_at IS NULL").first<{ n: number }>())?.n;
const members = async (groupId: string) =>
  (await env.DB.prepare("SELECT user_external_id FROM group_members WHERE provider = 'scalekit' AND group_external_id = ? ORDER BY 1").bind(groupId).all<{ user_external_id: string }>()).results.map(
    (row) => row.user_external_id,
  );

describe("Scalekit reconciliation", () => {
  beforeEach(async () => {
    await env.DB.exec(
      "DELETE FROM users; DELETE FROM groups; DELETE FROM group_members; DELETE FROM membership_versions; DELETE FROM membership_resets; DELETE FROM directories; DELETE FROM reconcile_runs; DELETE FROM reconcile_seen; DELETE FROM reconcile_pending; DELETE FROM work_claims; DELETE FROM event_log;",
    );
  });

  it("lands a directory: users with their profile, groups with names, memberships, and the directory itself", async () => {
    const environment = scalekitEnvironment("skr-land");
    const users = people(45).map((entry, i) => ({
      ...entry,
      group_ids: i < 35 ? ["dirgrp_eng"] : [],
      detail: { active: true, dp_id: `okta-${entry.id}`, department: "R&D", roles: [{ role_name: "member" }] },
    }));
    await environment.reset(tenant(users, { groups: [group("dirgrp_eng", "Engineering"), group("dirgrp_empty", "Nobody")] }));
    const { discovery, directoryRun } = await reconcileScalekit(environment);
    expect(discovery).toMatchObject({ status: "completed", scanned: 1 });
    expect(directoryRun).toMatchObject({ status: "completed", scanned: 45, created: 45, deactivated: 0, groupsChanged: 2, membershipsChanged: 35, errors: 0 });
    expect(await user("dirusr_0007")).toMatchObject({ email: "dirusr_0007@example.com", active: 1, directory_id: DIR, user_name: "dirusr_0007@example.com", scim_external_id: "okta-dirusr_0007" });
    expect(await members("dirgrp_eng")).toEqual(ids(35));
    const groups = await env.DB.prepare("SELECT external_id, name FROM groups WHERE provider = 'scalekit' ORDER BY 1").all();
    expect(groups.results).toEqual([
      { external_id: "dirgrp_empty", name: "Nobody" },
      { external_id: "dirgrp_eng", name: "Engineering" },
    ]);
    const directory = await env.DB.prepare("SELECT organization_id, enabled FROM directories WHERE provider = 'scalekit' AND id = ?").bind(DIR).first();
    expect(directory).toEqual({ organization_id: ORG, enabled: 1 });
  });

  it("heals a user created, changed and removed while webhooks were lost, and memberships both ways", async () => {
    const environment = scalekitEnvironment("skr-heal");
    // What the webhooks delivered before the outage, in Scalekit's documented shape (no directory_id).
    const webhook = scalekit.parse(
      signedDelivery({
        spec_version: "1",
        id: "evt_before_outage",
        type: "organization.directory.user_created",
        occurred_at: new Date(Date.now() - 3600_000).toISOString(),
        environment_id: "env_1",
        organization_id: ORG,
        object: "DirectoryUser",
        data: { id: "dirusr_leaver", email: "leaver@example.com", organization_id: ORG, active: true, groups: [{ id: "dirgrp_eng", name: "Engineering" }] },
      }),
    );
    if (webhook.outcome !== "event") throw new Error("fixture did not parse");
    const before = [...people(20), scalekitUser("dirusr_changes", DIR, { given_name: "Before", group_ids: ["dirgrp_eng"] })];
    await environment.reset(tenant(before, { groups: [group("dirgrp_eng", "Engineering")] }));
    await reconcileScalekit(environment);
    await deliverBatch([eventMessage(webhook.event)]);
    expect(await members("dirgrp_eng")).toEqual(["dirusr_changes", "dirusr_leaver"]);

    // The outage: a joiner, a change (name and groups), and the leaver gone; no webhook arrives.
    await environment.upsert(scalekitUser("dirusr_joiner", DIR, { group_ids: ["dirgrp_eng"] }), scalekitUser("dirusr_changes", DIR, { given_name: "After", group_ids: [] }));
    const { directoryRun } = await reconcileScalekit(environment);
    expect(directoryRun).toMatchObject({ status: "completed", created: 1, updated: 1, deactivated: 1, membershipsChanged: 3 });
    expect(await user("dirusr_joiner")).toMatchObject({ active: 1, deleted_at: null });
    expect(await user("dirusr_changes")).toMatchObject({ first_name: "After", active: 1 });
    // The leaver (never in the listing, stored without a directory id: the organization's only directory) is deleted, profile kept.
    expect(await user("dirusr_leaver")).toMatchObject({ email: "leaver@example.com", active: 0, deleted_at: expect.any(Number) });
    expect(await members("dirgrp_eng")).toEqual(["dirusr_joiner"]);
  });

  it("a listing that does not say whether a user is active never reactivates them", async () => {
    const environment = scalekitEnvironment("skr-silent-active");
    await environment.reset(tenant([...people(20), scalekitUser("dirusr_off", DIR, { detail: { active: false } })]));
    const { directoryRun } = await reconcileScalekit(environment);
    expect(directoryRun).toMatchObject({ status: "completed", created: 21 });
    expect(await user("dirusr_off")).toMatchObject({ active: 0 });
    // The API stops saying (no `active` in user_detail); the profile still changes.
    await environment.upsert(scalekitUser("dirusr_off", DIR, { given_name: "Renamed", detail: { dp_id: "idp-off" } }));
    await reconcileScalekit(environment);
    expect(await user("dirusr_off")).toMatchObject({ active: 0, first_name: "Renamed" });
  });

  it("a second run over an unchanged directory writes no user rows", async () => {
    const environment = scalekitEnvironment("skr-unchanged");
    await environment.reset(tenant(people(60).map((entry) => ({ ...entry, group_ids: ["dirgrp_all"] })), { groups: [group("dirgrp_all", "All")] }));
    await reconcileScalekit(environment);
    const writes = await countUserWrites();
    const { directoryRun } = await reconcileScalekit(environment);
    expect(directoryRun).toMatchObject({ status: "completed", unchanged: 60, created: 0, updated: 0, deactivated: 0, groupsChanged: 0, membershipsChanged: 0 });
    expect(await writes()).toBe(0);
  });

  it("never removes a present user when a removal shifts the pages of the first listing", async () => {
    const environment = scalekitEnvironment("skr-shift-first");
    await environment.reset(tenant(people(25)));
    await reconcileScalekit(environment);
    // After page 1 of the next listing, dirusr_0000 (already read) is removed: with offset tokens
    // page 2 starts one user later, so dirusr_0010 (present all along) is not listed at all.
    await environment.setQuirks({ afterUsersPage: { page: 1, remove: ["dirusr_0000"] } });
    const { directoryRun } = await reconcileScalekit(environment);
    expect(directoryRun).toMatchObject({ status: "completed", deactivated: 0 });
    expect(await user("dirusr_0010")).toMatchObject({ active: 1, deleted_at: null });
    // dirusr_0000 was seen by the first listing, so it takes the next run to remove it.
    expect(await user("dirusr_0000")).toMatchObject({ active: 1, deleted_at: null });
    const { directoryRun: next } = await reconcileScalekit(environment);
    expect(next).toMatchObject({ status: "completed", deactivated: 1 });
    expect(await user("dirusr_0000")).toMatchObject({ active: 0, deleted_at: expect.any(Number) });
    expect(await liveCount()).toBe(24);
  });

  it("removes nobody when the confirming listing shifts, and says so", async () => {
    const environment = scalekitEnvironment("skr-shift-confirm");
    await environment.reset(tenant(people(26)));
    await reconcileScalekit(environment);
    await environment.remove("dirusr_0025"); // really gone: absent from the first listing
    // Pages 1-3 are the first listing; page 4 is the confirming listing's first page. After it, a
    // removal shifts that listing (and would hide dirusr_0010 from it).
    await environment.setQuirks({ afterUsersPage: { page: 4, remove: ["dirusr_0000"] } });
    const { directoryRun } = await reconcileScalekit(environment);
    expect(directoryRun).toMatchObject({ status: "completed", deactivated: 0 });
    expect(directoryRun?.note).toMatch(/changed while it was read/);
    expect(await liveCount()).toBe(26);
    // A calm run then removes both, on two complete listings that agree.
    const { directoryRun: calm } = await reconcileScalekit(environment);
    expect(calm).toMatchObject({ status: "completed", deactivated: 2 });
    expect(await user("dirusr_0010")).toMatchObject({ active: 1, deleted_at: null });
    expect(await liveCount()).toBe(24);
  });

  it("keeps a membership a shifted member listing missed, and removes one two listings agree on", async () => {
    const environment = scalekitEnvironment("skr-members-shift");
    const inGroup = people(25).map((entry) => ({ ...entry, group_ids: ["dirgrp_eng"] }));
    await environment.reset(tenant(inGroup, { groups: [group("dirgrp_eng", "Engineering")] }));
    await reconcileScalekit(environment);
    expect(await members("dirgrp_eng")).toHaveLength(25);
    // Users pass: pages 1-3. Member listing of the group: pages 4-6. dirusr_0024 leaves the group;
    // after page 4 dirusr_0001 leaves too, so the member listing's next page skips dirusr_0010.
    await environment.upsert(scalekitUser("dirusr_0024", DIR, { group_ids: [] }));
    await environment.setQuirks({ afterUsersPage: { page: 4, upsert: [scalekitUser("dirusr_0001", DIR, { group_ids: [] })] } });
    await reconcileScalekit(environment);
    const after = await members("dirgrp_eng");
    expect(after).toContain("dirusr_0010"); // present all along, skipped by the shift: never removed
    expect(after).not.toContain("dirusr_0024"); // absent from both listings of the group
    expect(after).toContain("dirusr_0001"); // left during the first listing after being read: next run
    await reconcileScalekit(environment);
    expect(await members("dirgrp_eng")).toEqual(ids(24).filter((id) => id !== "dirusr_0001"));
  });

  it("refuses a mass removal (an emptied directory) and removes nobody", async () => {
    const environment = scalekitEnvironment("skr-guard");
    await environment.reset(tenant(people(40)));
    await reconcileScalekit(environment);
    await environment.remove(...ids(40));
    const { directoryRun } = await reconcileScalekit(environment);
    expect(directoryRun).toMatchObject({ status: "guard_tripped", deactivated: 0 });
    expect(directoryRun?.note).toMatch(/Refused to remove/);
    expect(await liveCount()).toBe(40);
  });

  it("does not reconcile a disabled directory, and keeps its users", async () => {
    const environment = scalekitEnvironment("skr-disabled");
    await environment.reset(tenant(people(10)));
    await reconcileScalekit(environment);
    await environment.reset(tenant([], { enabled: false }));
    const { discovery, directoryRun } = await reconcileScalekit(environment);
    expect(discovery).toMatchObject({ status: "completed", scanned: 1 });
    expect(discovery.note).toMatch(/0 enabled/);
    expect(directoryRun).toBeNull(); // no run for it
    expect(await liveCount()).toBe(10);
    const directory = await env.DB.prepare("SELECT enabled FROM directories WHERE provider = 'scalekit' AND id = ?").bind(DIR).first();
    expect(directory).toEqual({ enabled: 0 });
  });

  it("stops a directory run that a directory_disabled event overtakes, removing nobody", async () => {
    const environment = scalekitEnvironment("skr-disabled-midrun");
    await environment.reset(tenant(people(30)));
    await reconcileScalekit(environment);
    await environment.remove(...ids(2));
    const captured = capturingQueue();
    const client = environment.client({ sleep: noSleep });
    const config = { ...defaultReconcileConfig, pageSize: 10, pagesPerMessage: 1 };
    await startOrResumeRun({ d1: env.DB, queue: captured.queue, now: Date.now }, "scalekit", "test");
    let disabled = false;
    for (let message = captured.take(), steps = 0; message && steps < 200; message = captured.take(), steps++) {
      const next = await continueRun(message, { d1: env.DB, queue: captured.queue, clientFor: () => client, config, now: Date.now });
      if (next) captured.sent.push(next);
      const running = await env.DB.prepare("SELECT step FROM reconcile_runs WHERE scope = ? AND status = 'running'").bind(DIR).first<{ step: number }>();
      if (!disabled && running && running.step >= 2) {
        const event = scalekit.parse(
          signedDelivery({ id: "evt_disable", type: "organization.directory_disabled", occurred_at: new Date().toISOString(), organization_id: ORG, data: { id: DIR, organization_id: ORG, enabled: false } }),
        );
        if (event.outcome !== "event") throw new Error("fixture did not parse");
        await deliverBatch([eventMessage(event.event)]);
        disabled = true;
      }
    }
    const [run] = (await recentRuns(env.DB, "scalekit", 10)).filter((entry) => entry.scope === DIR);
    expect(run).toMatchObject({ status: "completed", deactivated: 0 });
    expect(run?.note).toMatch(/disabled/);
    expect(await liveCount()).toBe(30);
  });

  it("fails on refused credentials (403) with a clear note, and removes nobody", async () => {
    const environment = scalekitEnvironment("skr-denied");
    await environment.reset(tenant(people(10)));
    await reconcileScalekit(environment);
    await environment.setQuirks({ deny: 403 });
    const { discovery } = await reconcileScalekit(environment);
    expect(discovery).toMatchObject({ status: "failed" });
    expect(discovery.note).toMatch(/configuration is wrong/);
    expect(discovery.lastError).toMatch(/403|configuration|denied/);
    expect(await liveCount()).toBe(10);
  });

  it("a wrong environment (no such directory) fails the directory run, never removes anyone", async () => {
    const environment = scalekitEnvironment("skr-wrong-env");
    await environment.reset(tenant(people(10)));
    await reconcileScalekit(environment);
    // The directory vanishes from under the run: its listing answers 404.
    const captured = capturingQueue();
    const { run } = await startOrResumeRun({ d1: env.DB, queue: captured.queue, now: Date.now }, "scalekit", "test", DIR);
    await environment.reset({ organizations: [{ id: ORG }], directories: [], users: [] });
    const client = environment.client({ sleep: noSleep });
    for (let message = captured.take(), steps = 0; message && steps < 50; message = captured.take(), steps++) {
      const next = await continueRun(message, { d1: env.DB, queue: captured.queue, clientFor: () => client, config: { ...defaultReconcileConfig, pageSize: 10 }, now: Date.now });
      if (next) captured.sent.push(next);
    }
    const [finished] = (await recentRuns(env.DB, "scalekit", 10)).filter((entry) => entry.id === run.id);
    expect(finished).toMatchObject({ status: "failed", deactivated: 0 });
    expect(await liveCount()).toBe(10);
  });

  it("rides out 429 with Retry-After and 5xx within its budget", async () => {
    const environment = scalekitEnvironment("skr-throttled");
    await environment.reset(tenant(people(35), { quirks: { throttle: { times: 2, retryAfterSeconds: 1 }, failures: { times: 2, status: 503 } } }));
    const { discovery, directoryRun } = await reconcileScalekit(environment);
    expect(discovery.status).toBe("completed");
    expect(directoryRun).toMatchObject({ status: "completed", created: 35 });
  });

  it("an hourly run lists only what changed since the last run, and removes nobody", async () => {
    const environment = scalekitEnvironment("skr-hourly");
    const old = new Date(Date.now() - 48 * 3600_000).toISOString();
    await environment.reset(tenant(people(50, { updated_at: old })));
    await reconcileScalekit(environment);
    await environment.upsert(scalekitUser("dirusr_0003", DIR, { given_name: "Renamed" }));
    await environment.remove("dirusr_0004");
    const { directoryRun } = await reconcileScalekit(environment, { trigger: "hourly" });
    expect(directoryRun).toMatchObject({ status: "completed", scanned: 1, updated: 1, deactivated: 0 });
    expect(await user("dirusr_0003")).toMatchObject({ first_name: "Renamed" });
    expect(await user("dirusr_0004")).toMatchObject({ active: 1, deleted_at: null });
  });

  it("reconciles 400 users and a 130-member group at the API's page-size cap", async () => {
    const environment = scalekitEnvironment("skr-size");
    const users = people(400).map((entry, i) => ({ ...entry, group_ids: i % 3 === 0 ? ["dirgrp_big"] : [] }));
    await environment.reset(tenant(users, { groups: [group("dirgrp_big", "Big")] }));
    const { directoryRun } = await reconcileScalekit(environment, { config: { pageSize: 30, pagesPerMessage: 5 } });
    expect(directoryRun).toMatchObject({ status: "completed", created: 400, membershipsChanged: 134, errors: 0 });
    expect(await members("dirgrp_big")).toHaveLength(134);
  });
});
