import * as z from "zod";
import { sql, type SQL } from "drizzle-orm";
import { claimOnce } from "../../consumer/event-log";
import { runAtomically } from "../../d1";
import { isDirectoryEnabled } from "../../directory/directories";
import { eventVersion } from "../../directory/version";
import { directoryWrites, upsertUsers } from "../../directory/writes";
import type { DirectoryEvent, DirectoryUser } from "../../events";
import { log } from "../../log";
import { classify, storedUsers } from "../../reconcile/classify";
import { advance, dropScratch, finish, isLostRace, markSeen, REMOVALS_PER_STATEMENT, recordStepError, stagedRemovals, stageRemovals, type Counters, type Phase, type ReconcileRun } from "../../reconcile/runs";
import type { ReconcileSource, SourceStepDeps } from "../../reconcile/source";
import { startOrResumeRun } from "../../reconcile/start";
import { userFromDirectoryApi } from "./adapter";
import { MAX_DIRECTORY_PAGE_SIZE, ScalekitApiError, scalekitDirectoryApiFromEnv, type ScalekitDirectoryApi } from "./directory-api";

/**
 * Scalekit reconciliation through its Directory API: heals what lost webhooks left wrong (Scalekit
 * retries a delivery for only about 22 minutes).
 *
 * Two kinds of run share the run machinery (checkpoint in D1, one queue message per step, guard):
 * - discovery (scope ""): lists organizations and their directories, records every directory
 *   (enabled or not), and starts one run per enabled directory;
 * - a directory run (scope = directory id), its own resumable unit of work:
 *   1. users: every user of the directory (`include_detail=true`), written when the fingerprint
 *      differs; a user listed as inactive is staged for the guard;
 *   2. groups: every group, created or renamed when its name differs;
 *   3. members: each group's members (`directory_group_id`): missing memberships are added;
 *      memberships the listing did not show are removed only when a second listing of that group,
 *      begun after the first ended, does not show them either and was steady (below);
 *   4. confirm: when a stored user was absent from step 1, the users are listed a second time;
 *   5. finish: a user absent from BOTH complete listings, the second of them steady, is marked
 *      deleted (as Scalekit's `user_deleted` would), all removals together under the guard.
 *
 * Why two listings: the API has no single-user GET, and its page tokens are opaque, so a listing
 * may page by offset. A user removed before the cursor then shifts a present user from one page
 * to the previous one, and the listing silently skips them. A listing is "steady" when every page
 * reported the same `total_size`, none held an unreadable record, and it showed that many distinct
 * users: a shift needs the directory to change mid-listing, which changes the total. A present
 * user is removed only if BOTH listings missed them AND the second was steady, i.e. only if two
 * changes in the directory exactly cancelled out at the right position during the second listing,
 * after the same happened during the first; and then only within the guard's share. Webhooks
 * carry on meanwhile, and the next run re-adds anyone listed again.
 *
 * Versions: a record is versioned by when this run read it (one clock per subject, as Firstup's
 * reconciliation); a removal by when its confirming listing began, so any webhook newer than the
 * evidence wins. An hourly run (`trigger: "hourly"`) lists only users and groups updated since the
 * last completed run (`updated_after`, with a margin) and removes nobody; the nightly run is full.
 * A disabled directory is not reconciled at all (its users are kept: README, "Directories").
 */

const PROVIDER = "scalekit";
/** Organizations per discovery step: each costs one directories request (Free plan: 50 subrequests). */
const ORGANIZATIONS_PER_STEP = 10;
/** An incremental run looks back this much further than the last run's start (clock skew, lag). */
const INCREMENTAL_MARGIN_MS = 10 * 60 * 1000;
/**
 * Removals the guard always allows a directory, whatever its size: with only the share, a directory
 * of fewer than 10 users could never lose anyone (10% of 8 is 0). Three stays far below what a
 * misconfiguration empties, and a wrong environment fails the run before any removal.
 */
const MIN_REMOVALS_ALLOWED = 3;
/**
 * A group's member listing may exceed the count the groups listing gave by this much (members
 * added meanwhile) before it is refused: a listing that ignores `directory_group_id` (a gateway,
 * an API change) would otherwise put every user of the directory into the group.
 */
const MEMBER_COUNT_SLACK = (expected: number) => Math.max(5, Math.ceil(expected * 0.1));

const listing = z.object({
  pageToken: z.string().nullable(),
  /** total_size of the first page; null before it. */
  total: z.number().int().nullable(),
  /** Every page so far reported `total` and held only readable records. */
  steady: z.boolean(),
  startedAt: z.number().int(),
});
type Listing = z.infer<typeof listing>;

const directoryCheckpoint = z.object({
  kind: z.literal("directory"),
  mode: z.enum(["full", "incremental"]),
  stage: z.enum(["start", "users", "groups", "members", "confirm", "finish"]),
  organizationId: z.string().nullable(),
  /** No other directory in the organization: users stored without a directory id belong to this one. */
  soleDirectory: z.boolean(),
  /** When the first users listing began: only users whose stored state is older can be absent. */
  scanStartedAt: z.number().int(),
  since: z.string().nullable(),
  listing,
  /** members: the group being listed, the last group done, and which listing of it this is. */
  groupId: z.string().nullable(),
  groupAfter: z.string(),
  /** The current group's member count as the groups listing gave it (null: not listed, or not said). */
  groupExpected: z.number().int().nullable(),
  /** The current group was in this run's groups listing (else it is a stored group the listing missed). */
  groupListed: z.boolean(),
  pass: z.union([z.literal(1), z.literal(2)]),
  /** The confirming users listing: null until it ran; then whether it was steady and complete. */
  confirmed: z.object({ trusted: z.boolean(), startedAt: z.number().int() }).nullable(),
});
type DirectoryCheckpoint = z.infer<typeof directoryCheckpoint>;

const discoveryCheckpoint = z.object({
  kind: z.literal("discovery"),
  pageToken: z.string().nullable(),
  directories: z.number().int(),
  started: z.number().int(),
});
type DiscoveryCheckpoint = z.infer<typeof discoveryCheckpoint>;

const checkpoint = z.discriminatedUnion("kind", [directoryCheckpoint, discoveryCheckpoint]);

const freshListing = (now: number): Listing => ({ pageToken: null, total: null, steady: true, startedAt: now });

/** What one unit of work decided: statements to commit with it, and where the run goes next. */
interface Unit {
  statements: SQL[];
  counters: Counters;
  next: { checkpoint: DirectoryCheckpoint | DiscoveryCheckpoint } | { end: "completed" | "guard_tripped" | "failed"; note: string | null };
}

type Deps = SourceStepDeps<ScalekitDirectoryApi>;

export const scalekitReconcileSource: ReconcileSource<ScalekitDirectoryApi> = {
  provider: PROVIDER,
  clientFromEnv: (env, fetch) => scalekitDirectoryApiFromEnv(env, fetch ? { fetch } : {}),
  incremental: true,
  initialCheckpoint(trigger, scope) {
    if (scope === "") return JSON.stringify({ kind: "discovery", pageToken: null, directories: 0, started: 0 } satisfies DiscoveryCheckpoint);
    const start: DirectoryCheckpoint = {
      kind: "directory",
      mode: trigger === "hourly" ? "incremental" : "full",
      stage: "start",
      organizationId: null,
      soleDirectory: false,
      scanStartedAt: 0,
      since: null,
      listing: freshListing(0),
      groupId: null,
      groupAfter: "",
      groupExpected: null,
      groupListed: true,
      pass: 1,
      confirmed: null,
    };
    return JSON.stringify(start);
  },
  step,
  isConfigurationError,
};

/**
 * 401/403 (after one token refresh) and a refused client secret are configuration; so are 404 on
 * an organization's or directory's listing (a wrong environment URL, or a directory deleted) and
 * other 4xx (a request the API refuses will be refused again). Only 429/5xx/network are retried.
 */
function isConfigurationError(error: unknown): boolean {
  return error instanceof ScalekitApiError && !error.transient;
}

async function step(run: ReconcileRun, deps: Deps): Promise<{ phase: Phase; cursor: string } | null> {
  let state = checkpoint.parse(JSON.parse(run.checkpoint ?? "null"));
  let steps = run.step;
  let units = 0;
  for (;;) {
    let unit: Unit;
    try {
      unit =
        run.pages + units >= deps.config.maxPages
          ? { statements: [], counters: {}, next: { end: "failed", note: `Stopped after RECONCILE_MAX_PAGES (${deps.config.maxPages}) steps: the listing does not end. Nobody was removed.` } }
          : state.kind === "discovery"
            ? await discoveryUnit(run, state, deps)
            : await directoryUnit(run, state, deps);
    } catch (error) {
      // As Firstup's scan: once a unit has committed, a transient failure hands over from the new
      // checkpoint (the queue message that retries it would be stale). Before that, it propagates.
      if (units === 0 || isLostRace(error) || !(error instanceof ScalekitApiError) || !error.transient) throw error;
      await recordStepError(deps.d1, run.id, error.message, deps.now());
      return { phase: phaseOf(state), cursor: `step:${steps}` };
    }
    const now = deps.now();
    const claim = claimOnce("reconcile", `${run.id}:${steps}`, now);
    if ("end" in unit.next) {
      await runAtomically(deps.d1, [claim, ...unit.statements, finish(run.id, unit.next.end, unit.counters, unit.next.note, now), ...dropScratch(run.id)]);
      log("reconcile.completed", { runId: run.id, provider: PROVIDER, scope: run.scope, status: unit.next.end });
      return null;
    }
    state = unit.next.checkpoint;
    await runAtomically(deps.d1, [claim, ...unit.statements, advance(run.id, { phase: phaseOf(state), checkpoint: JSON.stringify(state) }, unit.counters, now)]);
    steps++;
    units++;
    // A discovery unit may make 11 requests (an organizations page, a directories request each):
    // one per message keeps a step inside the invocation's upstream budget.
    if (state.kind === "discovery" || units >= deps.config.pagesPerMessage || deps.now() >= deps.deadline) return { phase: phaseOf(state), cursor: `step:${steps}` };
  }
}

function phaseOf(state: DirectoryCheckpoint | DiscoveryCheckpoint): Phase {
  if (state.kind === "discovery") return "scan";
  return state.stage === "confirm" ? "sweep" : state.stage === "finish" ? "finish" : "scan";
}

// ---- discovery ------------------------------------------------------------------------------

async function discoveryUnit(run: ReconcileRun, state: DiscoveryCheckpoint, deps: Deps): Promise<Unit> {
  const page = await deps.client.listOrganizations({ pageToken: state.pageToken, pageSize: ORGANIZATIONS_PER_STEP });
  const events: DirectoryEvent[] = [];
  let started = 0;
  for (const organization of page.items) {
    let directories;
    const observedAt = deps.now();
    try {
      directories = await deps.client.listDirectories(organization.id);
    } catch (error) {
      // An organization deleted between the two requests has no directories to reconcile.
      if (error instanceof ScalekitApiError && error.kind === "not_found") continue;
      throw error;
    }
    for (const directory of directories) {
      events.push({
        ...synthetic(run, observedAt),
        kind: "directory_changed",
        directory: {
          id: directory.id,
          organizationId: directory.organization_id ?? organization.id,
          directoryType: directory.directory_type ?? null,
          idpProvider: directory.directory_provider ?? null,
          enabled: directory.enabled,
          status: directory.status ?? null,
        },
      });
    }
  }
  // Recorded before the directory runs start, so each finds its organization.
  await runAtomically(deps.d1, directoryWrites(events, deps.now()));
  for (const event of events) {
    if (event.kind !== "directory_changed" || !event.directory.enabled) continue;
    if (!deps.queue) throw new Error("reconcile: a queue is needed to start directory runs");
    await startOrResumeRun({ d1: deps.d1, queue: deps.queue, now: deps.now }, PROVIDER, run.trigger, event.directory.id);
    started++;
  }
  const next: DiscoveryCheckpoint = { kind: "discovery", pageToken: page.nextPageToken, directories: state.directories + events.length, started: state.started + started };
  const counters: Counters = { pages: 1, scanned: events.length, errors: page.invalid };
  if (page.nextPageToken !== null) return { statements: [], counters, next: { checkpoint: next } };
  const note = `${next.directories} directories found; a run started for each of the ${next.started} enabled ones (see their own reports).`;
  return { statements: [], counters, next: { end: "completed", note } };
}

// ---- a directory ----------------------------------------------------------------------------

async function directoryUnit(run: ReconcileRun, state: DirectoryCheckpoint, deps: Deps): Promise<Unit> {
  if (state.stage === "start") return startUnit(run, state, deps);
  // Checked before every unit: a directory disabled mid-run stops the run, nobody removed.
  if (!(await isDirectoryEnabled(deps.d1, PROVIDER, run.scope))) {
    return { statements: [], counters: {}, next: { end: "completed", note: "Stopped: the directory is disabled. Nothing was removed; its users are kept as they were." } };
  }
  switch (state.stage) {
    case "users":
    case "confirm":
      return usersUnit(run, state, deps);
    case "groups":
      return groupsUnit(run, state, deps);
    case "members":
      return membersUnit(run, state, deps);
    case "finish":
      return finishUnit(run, state, deps);
  }
}

async function startUnit(run: ReconcileRun, state: DirectoryCheckpoint, deps: Deps): Promise<Unit> {
  const directory = await deps.d1
    .prepare(
      `SELECT d.organization_id, d.enabled,
              (SELECT count(*) FROM directories AS o WHERE o.provider = d.provider AND o.organization_id = d.organization_id) AS siblings
       FROM directories AS d WHERE d.provider = ? AND d.id = ?`,
    )
    .bind(PROVIDER, run.scope)
    .first<{ organization_id: string | null; enabled: number | null; siblings: number }>();
  if (!directory?.organization_id) {
    return { statements: [], counters: {}, next: { end: "completed", note: "Skipped: the directory is not known yet. A discovery run (POST /admin/reconcile/scalekit) records it first." } };
  }
  if (directory.enabled === 0) {
    return { statements: [], counters: {}, next: { end: "completed", note: "Skipped: the directory is disabled. Its users are kept as they were." } };
  }
  let mode = state.mode;
  let since: string | null = null;
  if (mode === "incremental") {
    const last = await deps.d1
      .prepare("SELECT max(started_at) AS at FROM reconcile_runs WHERE provider = ? AND scope = ? AND status = 'completed'")
      .bind(PROVIDER, run.scope)
      .first<{ at: number | null }>();
    // Without a completed run to count from, an incremental run would miss everything older.
    if (last?.at) since = new Date(last.at - INCREMENTAL_MARGIN_MS).toISOString();
    else mode = "full";
  }
  const now = deps.now();
  const next: DirectoryCheckpoint = {
    ...state,
    mode,
    since,
    stage: "users",
    organizationId: directory.organization_id,
    soleDirectory: directory.siblings <= 1,
    scanStartedAt: now,
    listing: freshListing(now),
  };
  return { statements: [], counters: {}, next: { checkpoint: next } };
}

/** A page's effect on a listing's steadiness (see the module comment). */
function nextListing(current: Listing, page: { items: unknown[]; nextPageToken: string | null; totalSize: number | null; invalid: number }): Listing {
  // proto3 JSON omits zeros and empty lists: a first and last page with nothing on it is a total of 0.
  const reported = page.totalSize ?? (current.total === null && page.items.length === 0 && page.nextPageToken === null ? 0 : null);
  const total = current.total ?? reported;
  const steady = current.steady && page.invalid === 0 && reported !== null && reported === total;
  return { ...current, pageToken: page.nextPageToken, total, steady };
}

/** A next_page_token equal to the one just used: the listing would loop forever. */
function assertAdvances(listing: Listing, nextPageToken: string | null, label: string): void {
  if (nextPageToken !== null && nextPageToken === listing.pageToken) throw new ScalekitApiError("client_error", 200, `${label}: next_page_token repeats`);
}

async function usersUnit(run: ReconcileRun, state: DirectoryCheckpoint, deps: Deps): Promise<Unit> {
  const { d1, client, config } = deps;
  const organizationId = state.organizationId!;
  const pass = state.stage === "confirm" ? 2 : 1;
  // Versioned by when the request was sent: a webhook for any change after that wins.
  const observedAt = deps.now();
  const page = await client.listUsers(organizationId, run.scope, {
    pageToken: state.listing.pageToken,
    pageSize: Math.min(config.pageSize, MAX_DIRECTORY_PAGE_SIZE),
    includeDetail: true,
    ...(state.since && pass === 1 ? { updatedAfter: state.since } : {}),
  });
  assertAdvances(state.listing, page.nextPageToken, "users listing");
  const read = page.items.flatMap((item) => userFromDirectoryApi(item, { organizationId, directoryId: run.scope }) ?? []);
  const unreadable = page.items.length - read.length;
  const stored = await storedUsers(d1, PROVIDER, read.map(({ user }) => user.externalId));
  // A record that does not say whether the user is active keeps the stored state: silence must
  // not reactivate a deactivated user (a new one is created active: it is listed).
  const records = read.map(({ user, activeKnown }) => ({ user: activeKnown ? user : { ...user, active: (stored.get(user.externalId)?.active ?? 1) === 1 }, observedAt }));
  const { writes, removals, counts } = classify(records, stored, { provider: PROVIDER, runId: run.id });
  // Every listed id counts as seen, readable or not: an unreadable record is not an absent one.
  const seen = page.items.map((item) => `u${pass}:${item.id}`);
  const listingNow = nextListing(state.listing, { ...page, invalid: page.invalid + unreadable });
  const statements = [...(writes.length ? upsertUsers(writes, deps.now(), { onlyIfLive: true }) : []), ...markSeen(run.id, seen), ...stageRemovals(run.id, removals)];
  // The confirming listing re-reads everyone: its unchanged users were counted by the first one.
  const counters: Counters = { pages: 1, scanned: page.items.length + page.invalid, errors: page.invalid + unreadable, ...counts, ...(pass === 2 ? { unchanged: 0 } : {}) };

  if (page.nextPageToken !== null) return { statements, counters, next: { checkpoint: { ...state, listing: listingNow } } };
  if (pass === 1) {
    return { statements, counters, next: { checkpoint: { ...state, stage: "groups", listing: freshListing(deps.now()) } } };
  }
  // The confirming listing ended: trusted only if steady and it showed as many users as it reported.
  const distinct = await countSeen(d1, run.id, "u2:", seen);
  const trusted = listingNow.steady && listingNow.total !== null && distinct === listingNow.total;
  return { statements, counters, next: { checkpoint: { ...state, stage: "finish", confirmed: { trusted, startedAt: state.listing.startedAt } } } };
}

async function groupsUnit(run: ReconcileRun, state: DirectoryCheckpoint, deps: Deps): Promise<Unit> {
  const { d1, client, config } = deps;
  const observedAt = deps.now();
  const page = await client.listGroups(state.organizationId!, run.scope, {
    pageToken: state.listing.pageToken,
    pageSize: Math.min(config.pageSize, MAX_DIRECTORY_PAGE_SIZE),
    ...(state.since ? { updatedAfter: state.since } : {}),
  });
  assertAdvances(state.listing, page.nextPageToken, "groups listing");
  const stored = await d1
    .prepare("SELECT external_id, name, deleted_at FROM groups WHERE provider = ? AND external_id IN (SELECT value FROM json_each(?))")
    .bind(PROVIDER, JSON.stringify(page.items.map((group) => group.id)))
    .all<{ external_id: string; name: string | null; deleted_at: number | null }>();
  const known = new Map(stored.results.map((row) => [row.external_id, row]));
  const events: DirectoryEvent[] = page.items
    .filter((group) => {
      const row = known.get(group.id);
      return !row || row.deleted_at !== null || row.name !== (group.display_name ?? null);
    })
    .map((group) => ({
      ...synthetic(run, observedAt),
      kind: "group_upserted",
      group: { externalId: group.id, name: group.display_name ?? null, organizationId: state.organizationId, directoryId: run.scope },
    }));
  // Seen as `g:<id>\t<member count>`, so the members step can check a member listing against it.
  const statements = [...directoryWrites(events, deps.now()), ...markSeen(run.id, page.items.map((group) => `g:${group.id}\t${group.total_users ?? ""}`))];
  const counters: Counters = { groups_changed: events.length, errors: page.invalid };
  if (page.nextPageToken !== null) return { statements, counters, next: { checkpoint: { ...state, listing: { ...state.listing, pageToken: page.nextPageToken } } } };
  // An incremental run stops here: memberships and absences need complete listings.
  if (state.mode === "incremental") return { statements, counters, next: { checkpoint: { ...state, stage: "finish" } } };
  // Stored groups of this directory the listing did not show get a members step too (`\t?`):
  // its 404 is the evidence that the group is gone (a group cannot vanish on a shifted page).
  statements.push(sql`INSERT OR IGNORE INTO reconcile_seen (run_id, external_id)
    SELECT ${run.id}, 'g:' || g.external_id || char(9) || '?' FROM groups AS g
    WHERE g.provider = ${PROVIDER} AND g.directory_id = ${run.scope} AND g.deleted_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM reconcile_seen AS s WHERE s.run_id = ${run.id}
                      AND s.external_id >= 'g:' || g.external_id || char(9) AND s.external_id < 'g:' || g.external_id || char(10))`);
  return {
    statements,
    counters,
    next: { checkpoint: { ...state, stage: "members", groupId: null, groupAfter: "", groupExpected: null, groupListed: true, pass: 1, listing: freshListing(deps.now()) } },
  };
}

async function membersUnit(run: ReconcileRun, state: DirectoryCheckpoint, deps: Deps): Promise<Unit> {
  const { d1, client, config } = deps;
  let groupId = state.groupId;
  if (groupId === null) {
    // The next group (listed, or stored and missed by the listing), in id order. Keys are
    // `g:<id>\t<count or ? >`: char(10) sorts after every key of `groupAfter`.
    const next = await d1
      .prepare("SELECT external_id FROM reconcile_seen WHERE run_id = ? AND external_id > ? AND external_id < 'g;' ORDER BY external_id LIMIT 1")
      .bind(run.id, `g:${state.groupAfter}\n`)
      .first<{ external_id: string }>();
    if (!next) return afterMembers(run, state, deps);
    const tab = next.external_id.indexOf("\t");
    groupId = next.external_id.slice(2, tab);
    const count = next.external_id.slice(tab + 1);
    state = { ...state, groupId, groupListed: count !== "?", groupExpected: /^\d+$/.test(count) ? Number(count) : null, pass: 1, listing: freshListing(deps.now()) };
  }
  const observedAt = deps.now();
  let page;
  try {
    page = await client.listGroupMembers(state.organizationId!, run.scope, groupId, {
      pageToken: state.listing.pageToken,
      pageSize: Math.min(config.pageSize, MAX_DIRECTORY_PAGE_SIZE),
    });
  } catch (error) {
    if (!(error instanceof ScalekitApiError) || error.kind !== "not_found") throw error;
    // Listed a moment ago: deleted since; its own delete event (or the next run) says so.
    if (state.groupListed) return groupDone(state, groupId, [], {}, deps);
    // A stored group the listing missed, and the API says it does not exist: it was deleted.
    return groupDone(state, groupId, await deleteGroup(deps.d1, run, groupId, observedAt, deps.now()), { groups_changed: 1 }, deps);
  }
  assertAdvances(state.listing, page.nextPageToken, "member listing");
  const listingNow = nextListing(state.listing, page);
  if (state.pass === 1 && state.groupExpected !== null && listingNow.total !== null && listingNow.total > state.groupExpected + MEMBER_COUNT_SLACK(state.groupExpected)) {
    // Far more members than the group has: the listing ignored directory_group_id. Grant nothing.
    log("reconcile.members_refused", { runId: run.id, expected: state.groupExpected, listed: listingNow.total });
    return groupDone(state, groupId, [], { errors: 1 }, deps);
  }
  const ids = page.items.map((user) => user.id);
  const prefix = `m${state.pass}:${groupId}\t`;
  const statements: SQL[] = [...markSeen(run.id, ids.map((id) => prefix + id))];
  const counters: Counters = { errors: page.invalid };
  if (state.pass === 1 && ids.length) {
    const members = await d1
      .prepare("SELECT user_external_id FROM group_members WHERE provider = ? AND group_external_id = ? AND user_external_id IN (SELECT value FROM json_each(?))")
      .bind(PROVIDER, groupId, JSON.stringify(ids))
      .all<{ user_external_id: string }>();
    const current = new Set(members.results.map((row) => row.user_external_id));
    const added = ids.filter((id) => !current.has(id));
    if (added.length) {
      statements.push(...directoryWrites([{ ...synthetic(run, observedAt), kind: "group_members_changed", groupExternalId: groupId, added, removed: [] }], deps.now()));
      counters.memberships_changed = added.length;
    }
  }
  if (page.nextPageToken !== null) return { statements, counters, next: { checkpoint: { ...state, listing: listingNow } } };

  // This listing of the group ended. Stored members it did not show are candidates for removal.
  // The page just read is recorded as seen only when this unit commits, after this read, so its
  // ids are left out here by hand: else its members look absent, every group is listed twice, and
  // a member the first listing missed and the second showed only on its last page is removed.
  const missing = await d1
    .prepare(
      `SELECT m.user_external_id AS id FROM group_members AS m
       WHERE m.provider = ? AND m.group_external_id = ?
         AND NOT EXISTS (SELECT 1 FROM reconcile_seen AS s WHERE s.run_id = ? AND s.external_id = ? || m.user_external_id)
         AND NOT EXISTS (SELECT 1 FROM reconcile_seen AS s WHERE s.run_id = ? AND s.external_id = ? || m.user_external_id)
         AND m.user_external_id NOT IN (SELECT value FROM json_each(?))
       ORDER BY m.user_external_id`,
    )
    .bind(PROVIDER, groupId, run.id, `m1:${groupId}\t`, run.id, `m2:${groupId}\t`, JSON.stringify(ids))
    .all<{ id: string }>();
  const candidates = missing.results.map((row) => row.id);
  if (state.pass === 1) {
    if (candidates.length === 0) return groupDone(state, groupId, statements, counters, deps);
    // Absent from one listing is not evidence enough: list the group again, from the start.
    return { statements, counters, next: { checkpoint: { ...state, pass: 2, listing: freshListing(deps.now()) } } };
  }
  const distinct = await countSeen(d1, run.id, prefix, ids.map((id) => prefix + id));
  if (!(listingNow.steady && listingNow.total !== null && distinct === listingNow.total)) {
    log("reconcile.members_unsteady", { runId: run.id, candidates: candidates.length });
    return groupDone(state, groupId, statements, { ...counters, errors: (counters.errors ?? 0) + 1 }, deps);
  }
  // The same guard as for users, per group: a listing that lost most of a group removes nobody.
  const size = await d1.prepare("SELECT count(*) AS n FROM group_members WHERE provider = ? AND group_external_id = ?").bind(PROVIDER, groupId).first<{ n: number }>();
  if (candidates.length > removalAllowance(deps.config.maxRemovalShare, size?.n ?? 0)) {
    log("reconcile.members_guard", { runId: run.id, candidates: candidates.length, members: size?.n ?? 0 });
    return groupDone(state, groupId, statements, { ...counters, errors: (counters.errors ?? 0) + 1 }, deps);
  }
  const removal: DirectoryEvent = { ...synthetic(run, state.listing.startedAt), kind: "group_members_changed", groupExternalId: groupId, added: [], removed: candidates };
  statements.push(...directoryWrites([removal], deps.now()));
  return groupDone(state, groupId, statements, { ...counters, memberships_changed: (counters.memberships_changed ?? 0) + candidates.length }, deps);
}

function groupDone(state: DirectoryCheckpoint, groupId: string, statements: SQL[], counters: Counters, deps: Deps): Unit {
  return { statements, counters, next: { checkpoint: { ...state, groupId: null, groupAfter: groupId, groupExpected: null, groupListed: true, pass: 1, listing: freshListing(deps.now()) } } };
}

/** The stored group, deleted as of `observedAt` (its memberships go with it), as its delete event would. */
async function deleteGroup(d1: D1Database, run: ReconcileRun, groupId: string, observedAt: number, now: number): Promise<SQL[]> {
  const row = await d1
    .prepare("SELECT name, organization_id, directory_id FROM groups WHERE provider = ? AND external_id = ?")
    .bind(PROVIDER, groupId)
    .first<{ name: string | null; organization_id: string | null; directory_id: string | null }>();
  const group = { externalId: groupId, name: row?.name ?? null, organizationId: row?.organization_id ?? null, directoryId: row?.directory_id ?? null };
  return directoryWrites([{ ...synthetic(run, observedAt), kind: "group_deleted", group }], now);
}

/** Removals the guard allows out of `size`: the configured share, but never fewer than MIN_REMOVALS_ALLOWED. */
function removalAllowance(share: number, size: number): number {
  return Math.max(Math.floor(share * size), MIN_REMOVALS_ALLOWED);
}

/** After the groups: list the users a second time only if the first listing missed someone we hold. */
async function afterMembers(run: ReconcileRun, state: DirectoryCheckpoint, deps: Deps): Promise<Unit> {
  const missing = await absentUsers(deps.d1, run, state, 1, ["u1:"]);
  if (missing.length === 0) return { statements: [], counters: {}, next: { checkpoint: { ...state, stage: "finish" } } };
  return { statements: [], counters: {}, next: { checkpoint: { ...state, stage: "confirm", listing: freshListing(deps.now()) } } };
}

async function finishUnit(run: ReconcileRun, given: DirectoryCheckpoint, deps: Deps): Promise<Unit> {
  const { d1, config } = deps;
  // Read again: a second directory enabled since the run began makes users without a directory
  // id no longer this directory's.
  const siblings = await d1
    .prepare("SELECT count(*) AS n FROM directories WHERE provider = ? AND organization_id = ?")
    .bind(PROVIDER, given.organizationId)
    .first<{ n: number }>();
  const state = { ...given, soleDirectory: given.soleDirectory && (siblings?.n ?? 0) <= 1 };
  const size = await d1
    .prepare(`SELECT count(*) AS n FROM users AS u WHERE ${IN_DIRECTORY}`)
    .bind(PROVIDER, run.scope, state.soleDirectory ? 1 : 0, state.organizationId)
    .first<{ n: number }>();
  const directorySize = size?.n ?? 0;
  const limit = removalAllowance(config.maxRemovalShare, directorySize);
  const staged = await stagedRemovals(d1, run.id);
  const notes: string[] = [];
  let absent: StoredRow[] = [];
  if (state.confirmed && !state.confirmed.trusted) {
    notes.push("The confirming listing changed while it was read, so nobody was removed for being absent; the next run looks again.");
  } else if (state.confirmed) {
    absent = await absentUsers(d1, run, state, limit + 1, ["u1:", "u2:"]);
  }
  const removals = staged.length + absent.length;
  if (removals > 0 && removals > limit) {
    const note =
      `Refused to remove ${removals === limit + 1 ? `more than ${limit}` : removals} of ${directorySize} users (more than ${Math.round(config.maxRemovalShare * 100)}% in one run). ` +
      `Nothing was deactivated or deleted. Check the upstream, then raise RECONCILE_MAX_REMOVAL_SHARE or start a run once it is right.`;
    log("reconcile.guard_tripped", { runId: run.id, removals, directorySize });
    return { statements: [], counters: {}, next: { end: "guard_tripped", note } };
  }
  const now = deps.now();
  const statements: SQL[] = [];
  const deactivations = staged.flatMap((removal) => (removal.record ? [removal.record] : []));
  for (let i = 0; i < deactivations.length; i += REMOVALS_PER_STATEMENT) {
    statements.push(...upsertUsers(deactivations.slice(i, i + REMOVALS_PER_STATEMENT), now, { onlyIfLive: true }));
  }
  // Marked deleted as of when the confirming listing began: a webhook newer than that evidence wins.
  const confirmedAt = state.confirmed?.startedAt ?? now;
  const deletions: DirectoryEvent[] = absent.map((row) => ({ ...synthetic(run, confirmedAt), kind: "user_deleted", user: storedProfile(row) }));
  for (let i = 0; i < deletions.length; i += REMOVALS_PER_STATEMENT) statements.push(...directoryWrites(deletions.slice(i, i + REMOVALS_PER_STATEMENT), now));
  return { statements, counters: { deactivated: removals }, next: { end: "completed", note: notes.length ? notes.join(" ") : null } };
}

// ---- shared ---------------------------------------------------------------------------------

/**
 * Live users of this directory (?1 provider, ?2 directory, ?3 sole directory of ?4 organization),
 * whatever organization a user filed under the directory carries (null included): a user the
 * directory lists must be found absent when it stops listing them. Read through the provider's
 * rows: migration 0010 dropped the (provider, directory_id) index (a row written per user write),
 * and these few reads per run cost rows read ($0.001 per million), not time that matters.
 */
const IN_DIRECTORY = `u.provider = ?1 AND u.forgotten_at IS NULL AND u.deleted_at IS NULL
  AND (u.directory_id = ?2 OR (?3 = 1 AND u.directory_id IS NULL AND u.organization_id = ?4))`;

interface StoredRow {
  external_id: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  organization_id: string | null;
  directory_id: string | null;
  user_name: string | null;
  scim_external_id: string | null;
  attributes: string | null;
  provider_roles: string | null;
}

/**
 * Live users of the directory that none of the given listings showed, and whose stored state is
 * older than the first listing: a user a webhook created or changed during the run is not absent.
 */
async function absentUsers(d1: D1Database, run: ReconcileRun, state: DirectoryCheckpoint, limit: number, listings: string[]): Promise<StoredRow[]> {
  const unseen = listings.map((_, i) => `AND NOT EXISTS (SELECT 1 FROM reconcile_seen AS s WHERE s.run_id = ?5 AND s.external_id = ?${7 + i} || u.external_id)`).join("\n");
  const rows = await d1
    .prepare(
      `SELECT u.external_id, u.email, u.first_name, u.last_name, u.organization_id, u.directory_id, u.user_name,
              u.scim_external_id, u.attributes, u.provider_roles
       FROM users AS u WHERE ${IN_DIRECTORY} AND u.last_event_version < ?6 ${unseen} ORDER BY u.external_id LIMIT ${Math.max(0, Math.floor(limit))}`,
    )
    .bind(PROVIDER, run.scope, state.soleDirectory ? 1 : 0, state.organizationId, run.id, eventVersion(state.scanStartedAt, ""), ...listings)
    .all<StoredRow>();
  return rows.results;
}

/** The stored profile, so a deletion keeps what we knew (as Scalekit's minimal user_deleted does). */
function storedProfile(row: StoredRow): Omit<DirectoryUser, "active"> {
  return {
    externalId: row.external_id,
    email: row.email,
    firstName: row.first_name,
    lastName: row.last_name,
    organizationId: row.organization_id,
    directoryId: row.directory_id,
    userName: row.user_name,
    scimExternalId: row.scim_external_id,
    attributes: row.attributes ? JSON.parse(row.attributes) : null,
    providerRoles: row.provider_roles ? JSON.parse(row.provider_roles) : null,
  };
}

/** Distinct ids a listing has seen so far, counting this unit's (not yet committed) ones. */
async function countSeen(d1: D1Database, runId: string, prefix: string, pending: string[]): Promise<number> {
  const row = await d1
    .prepare(
      `SELECT count(*) AS n FROM (
         SELECT external_id FROM reconcile_seen WHERE run_id = ? AND external_id >= ? AND external_id < ?
         UNION SELECT value FROM json_each(?))`,
    )
    .bind(runId, prefix, `${prefix}\u{10ffff}`, JSON.stringify(pending))
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** The envelope of a state this run observed: versioned by `observedAt`, tie-broken by the run. */
function synthetic(run: ReconcileRun, observedAt: number) {
  return { provider: PROVIDER, eventId: `reconcile:${run.id}`, occurredAt: observedAt, sourceType: "reconcile" };
}
