import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { scalekit } from "../../src/providers/scalekit/adapter";
import { recentRuns } from "../../src/reconcile/runs";
import { startOrResumeRun } from "../../src/reconcile/start";
import { continueRun } from "../../src/reconcile/steps";
import type { ReconcileConfig } from "../../src/config";
import { deliverBatch } from "../support/consumer";
import { eventMessage } from "../support/directory";
import { capturingQueue, defaultReconcileConfig } from "../support/reconcile";
import { signedDelivery } from "../support/scalekit";
import type { StoredGroup, StoredUser } from "../support/scalekit-api";
import { scalekitEnvironment, scalekitUser } from "../support/scalekit-environment";

/**
 * Hostile-review cases for Scalekit reconciliation: each failed on the first version of the code
 * (a present user deleted, a deactivation undone, a group's members kept, a loop, a grant).
 */

const ORG = "org_acme";
const DIR = "dir_acme";
const DIR2 = "dir_second";
const noSleep = async () => {};
const ids = (n: number, prefix = "dirusr_") => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, "0")}`);
const people = (n: number, dir = DIR, prefix = "dirusr_") => ids(n, prefix).map((id) => scalekitUser(id, dir));
const group = (id: string, name: string): StoredGroup => ({ id, directory_id: DIR, display_name: name });
const tenant = (users: StoredUser[], extra: { groups?: StoredGroup[]; directories?: { id: string; organization_id: string; enabled?: boolean }[] } = {}) => ({
  organizations: [{ id: ORG, display_name: "Acme" }],
  directories: extra.directories ?? [{ id: DIR, organization_id: ORG, enabled: true }],
  users,
  groups: extra.groups ?? [],
});

type Env = ReturnType<typeof scalekitEnvironment>;

async function drive(captured: ReturnType<typeof capturingQueue>, environment: Env, config: ReconcileConfig, maxSteps: number, clientOptions: Parameters<Env["client"]>[0] = {}, onStep?: () => Promise<void>) {
  const client = environment.client({ sleep: noSleep, ...clientOptions });
  let steps = 0;
  for (let message = captured.take(); message && steps < maxSteps; message = captured.take()) {
    steps++;
    const next = await continueRun(message, { d1: env.DB, queue: captured.queue, clientFor: () => client, config, now: Date.now });
    if (next) captured.sent.push(next);
    if (onStep) await onStep();
  }
  return steps;
}

async function reconcileScalekit(environment: Env, options: { config?: Partial<ReconcileConfig>; clientOptions?: Parameters<Env["client"]>[0]; maxSteps?: number } = {}) {
  const captured = capturingQueue();
  const config = { ...defaultReconcileConfig, pageSize: 10, ...options.config };
  const { run: discovery } = await startOrResumeRun({ d1: env.DB, queue: captured.queue, now: Date.now }, "scalekit", "test");
  await drive(captured, environment, config, options.maxSteps ?? 500, options.clientOptions);
  const runs = await recentRuns(env.DB, "scalekit", 50);
  return { discovery: runs.find((run) => run.id === discovery.id)!, directoryRun: runs.find((run) => run.scope === DIR && run.startedAt >= discovery.startedAt) ?? null };
}

const user = (id: string) =>
  env.DB.prepare("SELECT active, deleted_at, directory_id FROM users WHERE provider = 'scalekit' AND external_id = ?").bind(id).first<{ active: number; deleted_at: number | null; directory_id: string | null }>();
const members = async (groupId: string) =>
  (await env.DB.prepare("SELECT user_external_id FROM group_members WHERE provider = 'scalekit' AND group_external_id = ? ORDER BY 1").bind(groupId).all<{ user_external_id: string }>()).results.map((row) => row.user_external_id);

/** A webhook in Scalekit's documented shape (no directory_id on users), applied through the consumer. */
async function webhook(type: string, data: Record<string, unknown>, id: string, occurredAt = new Date().toISOString()) {
  const parsed = scalekit.parse(signedDelivery({ spec_version: "1", id, type, occurred_at: occurredAt, environment_id: "env_1", organization_id: ORG, data }));
  if (parsed.outcome !== "event") throw new Error(`fixture did not parse: ${JSON.stringify(parsed)}`);
  await deliverBatch([eventMessage(parsed.event)]);
}
const documentedUser = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  organization_id: ORG,
  email: `${id}@example.com`,
  preferred_username: `${id}@example.com`,
  given_name: `Given ${id}`,
  family_name: "Family",
  active: true,
  dp_id: `idp-${id}`,
  ...extra,
});

/** A fetch that rewrites Directory API JSON bodies (proto3 omissions, looping tokens, …). */
function rewriting(rewrite: (url: string, body: Record<string, unknown>) => Promise<void> | void): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const response = await fetch(input, init);
    const url = String(input instanceof Request ? input.url : input);
    if (!response.ok || !url.includes("/api/v1/")) return response;
    const body = (await response.json()) as Record<string, unknown>;
    await rewrite(url, body);
    return new Response(JSON.stringify(body), { status: response.status, headers: { "content-type": "application/json" } });
  }) as typeof fetch;
}

describe("review: Scalekit reconciliation", () => {
  beforeEach(async () => {
    await env.DB.exec(
      "DELETE FROM users; DELETE FROM groups; DELETE FROM group_members; DELETE FROM membership_versions; DELETE FROM membership_resets; DELETE FROM directories; DELETE FROM reconcile_runs; DELETE FROM reconcile_seen; DELETE FROM reconcile_pending; DELETE FROM work_claims; DELETE FROM event_log;",
    );
  });

  it("a present user of a directory added to the organization mid-run is not deleted by the first directory's run", async () => {
    const environment = scalekitEnvironment("rv-sole-snapshot");
    await environment.reset(tenant(people(30)));
    await reconcileScalekit(environment);
    const captured = capturingQueue();
    const config = { ...defaultReconcileConfig, pageSize: 10, pagesPerMessage: 1 };
    await startOrResumeRun({ d1: env.DB, queue: captured.queue, now: Date.now }, "scalekit", "test");
    let injected = false;
    await drive(captured, environment, config, 500, {}, async () => {
      const running = await env.DB.prepare("SELECT step FROM reconcile_runs WHERE scope = ? AND status = 'running'").bind(DIR).first<{ step: number }>();
      if (injected || !running || running.step < 1) return;
      injected = true;
      // The customer connects a second directory to the same organization; its webhooks arrive.
      await webhook("organization.directory_enabled", { id: DIR2, organization_id: ORG, enabled: true, directory_type: "SCIM", provider: "OKTA" }, "evt_dir2_enabled");
      await webhook("organization.directory.user_created", documentedUser("dirusr_in_dir2"), "evt_dir2_user");
    });
    expect(await user("dirusr_in_dir2")).toMatchObject({ active: 1, deleted_at: null });
  });

  it("a small directory (under 10 users) heals a leaver", async () => {
    const environment = scalekitEnvironment("rv-small");
    await environment.reset(tenant(people(8)));
    await reconcileScalekit(environment);
    await environment.remove("dirusr_0007");
    const { directoryRun } = await reconcileScalekit(environment);
    expect(directoryRun).toMatchObject({ status: "completed", deactivated: 1 });
  });

  it("a group deleted while webhooks were lost loses its members (and roles)", async () => {
    const environment = scalekitEnvironment("rv-group-deleted");
    await environment.reset(tenant(people(20).map((entry, i) => ({ ...entry, group_ids: i < 3 ? ["dirgrp_admins"] : [] })), { groups: [group("dirgrp_admins", "Admins")] }));
    await reconcileScalekit(environment);
    expect(await members("dirgrp_admins")).toHaveLength(3);
    await environment.upsert(...people(3).map((entry) => ({ ...entry, group_ids: [] })));
    const response = await fetch(`${environment.url}/__control`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ removeGroups: ["dirgrp_admins"] }) });
    expect(response.ok).toBe(true);
    await reconcileScalekit(environment);
    expect(await members("dirgrp_admins")).toEqual([]);
  });

  it("a group emptied upstream loses its members when proto3 JSON omits total_size: 0 and the empty list", async () => {
    const environment = scalekitEnvironment("rv-proto3-empty");
    const proto3 = rewriting((_url, body) => {
      if (body.total_size === 0) delete body.total_size;
      for (const key of ["users", "groups"]) if (Array.isArray(body[key]) && (body[key] as unknown[]).length === 0) delete body[key];
      if (body.next_page_token === "") delete body.next_page_token;
    });
    await environment.reset(tenant(people(20).map((entry, i) => ({ ...entry, group_ids: i < 2 ? ["dirgrp_admins"] : [] })), { groups: [group("dirgrp_admins", "Admins")] }));
    await reconcileScalekit(environment, { clientOptions: { fetch: proto3 } });
    expect(await members("dirgrp_admins")).toHaveLength(2);
    await environment.upsert(...people(2).map((entry) => ({ ...entry, group_ids: [] })));
    await reconcileScalekit(environment, { clientOptions: { fetch: proto3 } });
    await reconcileScalekit(environment, { clientOptions: { fetch: proto3 } });
    expect(await members("dirgrp_admins")).toEqual([]);
  });

  it("a listing page read before a deactivation does not undo the deactivation's webhook", async () => {
    const environment = scalekitEnvironment("rv-stale-page");
    await environment.reset(tenant(people(5)));
    await reconcileScalekit(environment);
    let done = false;
    const racing = rewriting(async (url) => {
      if (done || !url.includes("/users") || url.includes("directory_group_id")) return;
      done = true;
      // The page above was read; now the IdP deactivates dirusr_0003 and Scalekit sends the event.
      await environment.upsert(scalekitUser("dirusr_0003", DIR, { detail: { active: false, dp_id: "idp-dirusr_0003" } }));
      await webhook("organization.directory.user_updated", documentedUser("dirusr_0003", { active: false }), "evt_deactivate");
      expect(await user("dirusr_0003")).toMatchObject({ active: 0 });
    });
    await reconcileScalekit(environment, { clientOptions: { fetch: racing } });
    expect(await user("dirusr_0003")).toMatchObject({ active: 0 });
  });

  it("a looping next_page_token ends the run (RECONCILE_MAX_PAGES / repeat detection)", async () => {
    const environment = scalekitEnvironment("rv-loop");
    await environment.reset(tenant(people(25)));
    let loopToken: string | null = null;
    const looping = rewriting((url, body) => {
      if (!url.includes("/users") || url.includes("directory_group_id")) return;
      if (loopToken === null && typeof body.next_page_token === "string" && body.next_page_token) loopToken = body.next_page_token;
      if (body.next_page_token === "" && loopToken) body.next_page_token = loopToken;
    });
    await reconcileScalekit(environment, { clientOptions: { fetch: looping }, config: { maxPages: 5, pagesPerMessage: 1 }, maxSteps: 80 });
    const running = await env.DB.prepare("SELECT count(*) AS n, max(pages) AS pages FROM reconcile_runs WHERE scope = ? AND status = 'running'").bind(DIR).first<{ n: number; pages: number }>();
    expect(running).toMatchObject({ n: 0 });
  });

  it("a member listing that ignores directory_group_id (20 users for a group whose total_users is 3) grants nothing", async () => {
    const environment = scalekitEnvironment("rv-filter-ignored");
    await environment.reset(tenant(people(20).map((entry, i) => ({ ...entry, group_ids: i < 3 ? ["dirgrp_admins"] : [] })), { groups: [group("dirgrp_admins", "Admins")] }));
    const ignoring = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = new URL(String(input instanceof Request ? input.url : input));
      url.searchParams.delete("directory_group_id"); // a gateway that drops an unknown query parameter
      return fetch(url, init);
    }) as typeof fetch;
    await reconcileScalekit(environment, { clientOptions: { fetch: ignoring } });
    const granted = await members("dirgrp_admins");
    expect(granted).not.toContain("dirusr_0010");
    expect(granted.length).toBeLessThanOrEqual(3);
  });
});
