import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { recentRuns } from "../../src/reconcile/runs";
import { startOrResumeRun } from "../../src/reconcile/start";
import { continueRun } from "../../src/reconcile/steps";
import { capturingQueue, defaultReconcileConfig } from "../support/reconcile";
import type { StoredGroup, StoredUser } from "../support/scalekit-api";
import { scalekitEnvironment, scalekitUser } from "../support/scalekit-environment";

/**
 * A group's member listing, page by page, against the local Scalekit API: the members on a
 * listing's last page are part of that listing when its stored members are compared with it.
 * Both cases failed before membersUnit left the current page out of its `missing` query: every
 * group was listed twice, and a present member the first listing missed (shifted) and the second
 * showed only on its last page was removed.
 */

const ORG = "org_acme";
const DIR = "dir_acme";
/** The page size these runs ask for (config.pageSize); the API serves exactly that many. */
const PAGE_SIZE = 10;
const noSleep = async () => {};
const ids = (n: number) => Array.from({ length: n }, (_, i) => `dirusr_${String(i).padStart(4, "0")}`);
const group = (id: string, name: string): StoredGroup => ({ id, directory_id: DIR, display_name: name });
const tenant = (users: StoredUser[], groups: StoredGroup[]) => ({ organizations: [{ id: ORG, display_name: "Acme" }], directories: [{ id: DIR, organization_id: ORG, enabled: true }], users, groups });
const pages = (items: number) => Math.max(1, Math.ceil(items / PAGE_SIZE));

async function reconcileScalekit(environment: ReturnType<typeof scalekitEnvironment>) {
  const captured = capturingQueue();
  const config = { ...defaultReconcileConfig, pageSize: PAGE_SIZE };
  const client = environment.client({ sleep: noSleep });
  const { run: discovery } = await startOrResumeRun({ d1: env.DB, queue: captured.queue, now: Date.now }, "scalekit", "test");
  for (let message = captured.take(), steps = 0; message && steps < 500; message = captured.take(), steps++) {
    const next = await continueRun(message, { d1: env.DB, queue: captured.queue, clientFor: () => client, config, now: Date.now });
    if (next) captured.sent.push(next);
  }
  return (await recentRuns(env.DB, "scalekit", 50)).find((run) => run.scope === DIR && run.startedAt >= discovery.startedAt) ?? null;
}

const members = async (groupId: string) =>
  (await env.DB.prepare("SELECT user_external_id FROM group_members WHERE provider = 'scalekit' AND group_external_id = ? ORDER BY 1").bind(groupId).all<{ user_external_id: string }>()).results.map(
    (row) => row.user_external_id,
  );

describe("Scalekit reconciliation: a group's member listing", () => {
  beforeEach(async () => {
    await env.DB.exec(
      "DELETE FROM users; DELETE FROM groups; DELETE FROM group_members; DELETE FROM membership_versions; DELETE FROM membership_resets; DELETE FROM directories; DELETE FROM reconcile_runs; DELETE FROM reconcile_seen; DELETE FROM reconcile_pending; DELETE FROM work_claims; DELETE FROM event_log;",
    );
  });

  it("an unchanged run lists each group's members once, a group of several pages included", async () => {
    const environment = scalekitEnvironment("skm-once");
    // 25 users: all in Engineering (3 pages), the first 4 in Admins (1 page); Nobody is empty (1 page).
    const users = ids(25).map((id, i) => scalekitUser(id, DIR, { group_ids: i < 4 ? ["dirgrp_eng", "dirgrp_admins"] : ["dirgrp_eng"] }));
    await environment.reset(tenant(users, [group("dirgrp_eng", "Engineering"), group("dirgrp_admins", "Admins"), group("dirgrp_nobody", "Nobody")]));
    await reconcileScalekit(environment);
    expect(await members("dirgrp_eng")).toEqual(ids(25));
    expect(await members("dirgrp_admins")).toEqual(ids(4));

    // The users route serves both the users listing and every member listing.
    const before = (await environment.stats()).usersPagesServed;
    const run = await reconcileScalekit(environment);
    const served = (await environment.stats()).usersPagesServed - before;
    expect(run).toMatchObject({ status: "completed", membershipsChanged: 0, deactivated: 0, errors: 0 });
    expect(served).toBe(pages(25) /* users */ + pages(25) + pages(4) + pages(0) /* one listing of each group */);
    expect(await members("dirgrp_eng")).toEqual(ids(25));
    expect(await members("dirgrp_admins")).toEqual(ids(4));
  });

  it("never removes a present member the first listing missed and the second showed only on its last page", async () => {
    const environment = scalekitEnvironment("skm-last-page");
    // 21 members: pages of 10, 10 and 1; dirusr_0020 alone on the last page.
    const users = ids(21).map((id) => scalekitUser(id, DIR, { group_ids: ["dirgrp_eng"] }));
    await environment.reset(tenant(users, [group("dirgrp_eng", "Engineering")]));
    await reconcileScalekit(environment);
    expect(await members("dirgrp_eng")).toEqual(ids(21));

    // Users listing: pages 1-3. The group's first member listing: pages 4-6. After page 5,
    // dirusr_0000 (already read) leaves the group: the offset of page 6 now points past the end,
    // so the first listing misses dirusr_0020. The second listing (20 members, steady: the same
    // total on every page, 20 distinct) shows dirusr_0020 on its last page only.
    await environment.setQuirks({ afterUsersPage: { page: 5, upsert: [scalekitUser("dirusr_0000", DIR, { group_ids: [] })] } });
    const before = (await environment.stats()).usersPagesServed;
    const run = await reconcileScalekit(environment);
    const served = (await environment.stats()).usersPagesServed - before;
    expect(run).toMatchObject({ status: "completed", deactivated: 0 });
    // The second listing happened (the first really missed someone): 3 users pages, 3 + 2 member pages.
    expect(served).toBe(3 + 3 + 2);
    expect(await members("dirgrp_eng")).toContain("dirusr_0020");
    // dirusr_0000 was read by the first listing, so it takes the next run to remove it.
    expect(await members("dirgrp_eng")).toEqual(ids(21));

    await environment.setQuirks({});
    const calm = await reconcileScalekit(environment);
    expect(calm).toMatchObject({ status: "completed", membershipsChanged: 1 });
    expect(await members("dirgrp_eng")).toEqual(ids(21).slice(1));
  });

  it("removes a member absent from both listings even when the rest of the group is on the last page", async () => {
    const environment = scalekitEnvironment("skm-absent");
    const users = ids(12).map((id) => scalekitUser(id, DIR, { group_ids: ["dirgrp_eng"] }));
    await environment.reset(tenant(users, [group("dirgrp_eng", "Engineering")]));
    await reconcileScalekit(environment);
    expect(await members("dirgrp_eng")).toEqual(ids(12));
    // dirusr_0011 leaves the group while webhooks are lost: 11 members, pages of 10 and 1.
    await environment.upsert(scalekitUser("dirusr_0011", DIR, { group_ids: [] }));
    const run = await reconcileScalekit(environment);
    expect(run).toMatchObject({ status: "completed", membershipsChanged: 1 });
    expect(await members("dirgrp_eng")).toEqual(ids(11));
  });
});
