import { claimOnce, purgeMessagesAbout } from "../../consumer/event-log";
import { runAtomically } from "../../d1";
import { forgetUsers, upsertUsers } from "../../directory/writes";
import { eventVersion } from "../../directory/version";
import { log } from "../../log";
import { classify, storedUsers } from "../../reconcile/classify";
import {
  advance,
  alreadySeen,
  dropScratch,
  finish,
  isLostRace,
  REMOVALS_PER_STATEMENT,
  markSeen,
  recordStepError,
  stagedRemovals,
  stageRemovals,
  type Counters,
  type ReconcileRun,
} from "../../reconcile/runs";
import type { ReconcileSource, SourceStepDeps } from "../../reconcile/source";
import { scanPages, ScimRequestError, type ScimClient } from "./scim-client";
import { toDirectoryUser } from "./scim-user";
import { firstupScimClient } from "./upstream";

/**
 * Firstup reconciliation against its SCIM API, one step per queue message:
 *
 * 1. scan: read up to `pagesPerMessage` pages of the upstream listing; write what changed;
 * 2. sweep: local users the listing did not show are confirmed one by one with GET, because
 *    offset paging skips records when the upstream changes mid-scan: 404 → to be forgotten,
 *    found → applied like a listed user;
 * 3. finish: the mass-removal guard, then the removals, then the scratch tables are dropped.
 */

type RunDeps = SourceStepDeps<ScimClient>;

/** Local users one sweep message confirms at most: 40 GETs stay under the Free plan's 50 subrequests per invocation when none is retried. */
const SWEEP_BATCH = 40;

export const firstupReconcileSource: ReconcileSource<ScimClient> = {
  provider: "firstup",
  clientFromEnv: (env, fetch) => firstupScimClient(env, fetch ? { fetch } : {}),
  async step(run, deps) {
    if (run.phase === "scan") return scanStep(run, deps);
    if (run.phase === "sweep") return sweepStep(run, deps);
    return finishStep(run, deps);
  },
  isConfigurationError,
};

/**
 * Answers that mean the upstream is misconfigured, not down: a refused token (401/403), a bare
 * 404 on a user (a wrong base URL or a gateway, never proof of absence), a 404 on the listing.
 */
function isConfigurationError(error: unknown): boolean {
  if (!(error instanceof ScimRequestError)) return false;
  return error.kind === "unauthorized" || error.kind === "not_found_unverified" || (error.kind === "client_error" && error.status === 404);
}

async function scanStep(run: ReconcileRun, deps: RunDeps): Promise<{ phase: "scan" | "sweep"; cursor: string }> {
  const { d1, client, config } = deps;
  const pagesLeft = Math.min(config.pagesPerMessage, Math.max(0, config.maxPages - run.pages));
  let startIndex = run.nextStartIndex;
  let cursor = String(startIndex);
  let scanDone = pagesLeft === 0;
  const pages = scanPages((start, count) => client.listUsers(start, count), {
    pageSize: config.pageSize,
    maxPages: pagesLeft,
    startIndex,
    seenBefore: (ids) => alreadySeen(d1, run.id, ids),
  });
  let pagesRead = 0;
  let outOfTime = false;
  try {
    for await (const page of pages) {
      pagesRead++;
      const observedAt = deps.now();
      const records = page.users.map((user) => ({ user: toDirectoryUser(user), observedAt }));
      const stored = await storedUsers(d1, run.provider, records.map((record) => record.user.externalId));
      const { writes, removals, counts } = classify(records, stored, { provider: run.provider, runId: run.id });
      scanDone = page.done || run.pages + pagesRead >= config.maxPages;
      const counters: Counters = { pages: 1, scanned: page.received, errors: page.invalid, ...counts };
      const now = deps.now();
      await runAtomically(d1, [
        claimOnce("reconcile", `${run.id}:scan:${cursor}`, now),
        ...(writes.length ? upsertUsers(writes, now, { onlyIfLive: true }) : []),
        ...markSeen(run.id, records.map((record) => record.user.externalId)),
        ...stageRemovals(run.id, removals),
        advance(run.id, scanDone ? { phase: "sweep", sweepAfter: "", upstreamTotal: page.totalResults } : { phase: "scan", nextStartIndex: page.nextStartIndex, upstreamTotal: page.totalResults }, counters, now),
      ]);
      startIndex = page.nextStartIndex;
      cursor = String(startIndex);
      if (scanDone) break;
      if (deps.now() >= deps.deadline) {
        outOfTime = true;
        break;
      }
    }
  } catch (error) {
    // Pages before the failure are committed and the checkpoint has moved, so a queue retry of this
    // message would be stale. Hand over from the new checkpoint instead; the failed page is read
    // again by the next message. Configuration errors, and failures before any progress, propagate.
    const progressed = startIndex !== run.nextStartIndex;
    if (!progressed || isLostRace(error) || (error instanceof ScimRequestError && !error.transient)) throw error;
    await recordStepError(d1, run.id, error instanceof Error ? error.message : String(error), deps.now());
    log("reconcile.page_failed_after_progress", { runId: run.id, nextStartIndex: startIndex, error: String(error) });
    return { phase: "scan", cursor };
  }
  if (pagesRead === 0 || (!scanDone && !outOfTime && pagesRead < pagesLeft)) {
    // The listing ended on a page this step did not commit (wrap-around, or nothing at all).
    const now = deps.now();
    await runAtomically(d1, [claimOnce("reconcile", `${run.id}:scan:${cursor}`, now), advance(run.id, { phase: "sweep", sweepAfter: "" }, {}, now)]);
    scanDone = true;
  }
  log("reconcile.scanned", { runId: run.id, pages: pagesRead, nextStartIndex: startIndex, scanDone, outOfTime });
  return scanDone ? { phase: "sweep", cursor: "" } : { phase: "scan", cursor };
}

async function sweepStep(run: ReconcileRun, deps: RunDeps): Promise<{ phase: "sweep" | "finish"; cursor: string }> {
  const { d1, client } = deps;
  const candidates = await d1
    .prepare(
      `SELECT u.external_id FROM users AS u
       WHERE u.provider = ? AND u.forgotten_at IS NULL AND u.external_id > ?
         AND NOT EXISTS (SELECT 1 FROM reconcile_seen AS s WHERE s.run_id = ? AND s.external_id = u.external_id)
       ORDER BY u.external_id LIMIT ?`,
    )
    .bind(run.provider, run.sweepAfter, run.id, SWEEP_BATCH)
    .all<{ external_id: string }>();
  const ids = candidates.results.map((row) => row.external_id);

  // Ids are confirmed in order, so the checkpoint is simply the last one confirmed. Only a 404
  // with a SCIM error body returns null; a bare 404 throws (not_found_unverified) and fails the run.
  const found = [];
  /** Users the upstream answered a SCIM 404 for, with when it did (their erasure's version). */
  const gone: { externalId: string; observedAt: number }[] = [];
  let confirmed = 0;
  let failure: ScimRequestError | null = null;
  for (const id of ids) {
    if (confirmed > 0 && deps.now() >= deps.deadline) break;
    try {
      const user = await client.getUser(id);
      if (user) found.push({ user: toDirectoryUser(user), observedAt: deps.now() });
      else gone.push({ externalId: id, observedAt: deps.now() });
    } catch (error) {
      // As in the scan: once something is confirmed, an upstream hiccup commits it and hands over,
      // so a flaky upstream still moves the run forward. Configuration errors propagate.
      if (confirmed === 0 || !(error instanceof ScimRequestError) || !error.transient) throw error;
      failure = error;
      break;
    }
    confirmed++;
  }
  const stored = await storedUsers(d1, run.provider, found.map((record) => record.user.externalId));
  const { writes, removals, counts } = classify(found, stored, { provider: run.provider, runId: run.id });
  const last = ids[confirmed - 1] ?? run.sweepAfter;
  const sweepDone = confirmed === ids.length && ids.length < SWEEP_BATCH;
  const now = deps.now();
  await runAtomically(d1, [
    claimOnce("reconcile", `${run.id}:sweep:${run.sweepAfter}`, now),
    ...(writes.length ? upsertUsers(writes, now, { onlyIfLive: true }) : []),
    ...markSeen(run.id, found.map((record) => record.user.externalId)),
    ...stageRemovals(run.id, [...removals, ...gone.map(({ externalId, observedAt }) => ({ externalId, action: "forget" as const, record: { observedAt } }))]),
    advance(run.id, sweepDone ? { phase: "finish" } : { phase: "sweep", sweepAfter: last }, counts, now),
  ]);
  if (failure) await recordStepError(d1, run.id, failure.message, deps.now());
  log("reconcile.swept", { runId: run.id, checked: confirmed, of: ids.length, missing: gone.length, failed: failure !== null });
  return sweepDone ? { phase: "finish", cursor: "" } : { phase: "sweep", cursor: last };
}

async function finishStep(run: ReconcileRun, deps: RunDeps): Promise<null> {
  const { d1, config } = deps;
  const removals = await stagedRemovals(d1, run.id);
  const directory = await d1
    .prepare("SELECT count(*) AS n FROM users WHERE provider = ? AND forgotten_at IS NULL")
    .bind(run.provider)
    .first<{ n: number }>();
  const directorySize = directory?.n ?? 0;
  const now = deps.now();
  const claim = claimOnce("reconcile", `${run.id}:finish:`, now);

  if (removals.length > 0 && removals.length > config.maxRemovalShare * directorySize) {
    const note =
      `Refused to remove ${removals.length} of ${directorySize} users (more than ${Math.round(config.maxRemovalShare * 100)}% in one run). ` +
      `Nothing was deactivated or forgotten. Check the upstream, then raise RECONCILE_MAX_REMOVAL_SHARE or start a run once it is right.`;
    await runAtomically(d1, [claim, finish(run.id, "guard_tripped", {}, note, now), ...dropScratch(run.id)]);
    log("reconcile.guard_tripped", { runId: run.id, removals: removals.length, directorySize });
    return null;
  }

  const deactivations = removals.flatMap((removal) => (removal.action === "deactivate" && removal.record ? [removal.record] : []));
  const forgets = removals
    .filter((removal) => removal.action === "forget")
    .map((removal) => {
      // Versioned by when the sweep saw the 404, not by now: a webhook that saw the user present
      // after that (re-provisioned) is the newer observation and must win.
      const observedAt = typeof removal.record?.observedAt === "number" ? removal.record.observedAt : now;
      return { provider: run.provider, externalId: removal.externalId, occurredAt: observedAt, version: eventVersion(observedAt, `reconcile:${run.id}`) };
    });
  const statements = [claim];
  for (let i = 0; i < deactivations.length; i += REMOVALS_PER_STATEMENT) {
    statements.push(...upsertUsers(deactivations.slice(i, i + REMOVALS_PER_STATEMENT), now, { onlyIfLive: true }));
  }
  for (let i = 0; i < forgets.length; i += REMOVALS_PER_STATEMENT) {
    statements.push(...forgetUsers(forgets.slice(i, i + REMOVALS_PER_STATEMENT), now));
  }
  statements.push(...purgeMessagesAbout(forgets.map((forget) => ({ provider: run.provider, subject: forget.externalId }))));
  statements.push(finish(run.id, "completed", { deactivated: deactivations.length, forgotten: forgets.length }, null, now), ...dropScratch(run.id));
  await runAtomically(d1, statements);
  log("reconcile.completed", { runId: run.id, deactivated: deactivations.length, forgotten: forgets.length });
  return null;
}

