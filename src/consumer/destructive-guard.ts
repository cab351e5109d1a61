import { sql, type SQL } from "drizzle-orm";
import type { ConsumerConfig } from "../config";
import { versionOf } from "../directory/version";
import type { DirectoryEvent } from "../events";

/**
 * The guard on destructive outcomes of the webhook path and of SCIM connection writes
 * (scim/write/guard.ts), the counterpart of reconciliation's mass-removal guard. An erasure, or a
 * deactivation of an active user, counts against a budget per
 * provider, organization and fixed window: max(DESTRUCTIVE_GUARD_MIN, DESTRUCTIVE_GUARD_MAX_SHARE ×
 * that organization's users). Past it, events are held for an operator instead of applied, so a
 * leaked credential, a wrong upstream or a customer's IdP misfiring cannot empty a directory in an
 * hour; and one customer's offboarding (or a malicious customer admin) spends only its own budget,
 * never another customer's.
 *
 * The count is read before the batch and re-checked inside it: the batch increments the window and
 * fails (rolls back whole) if concurrent consumers pushed it past the budget meanwhile.
 */

export type DestructiveKind = "erase" | "deactivate";

export type DestructiveGuardConfig = ConsumerConfig["destructiveGuard"];

export interface GuardCandidate {
  event: DirectoryEvent;
  /** Released by an operator: counted, never held. */
  released: boolean;
}

export interface GuardPlan<T extends GuardCandidate> {
  allowed: T[];
  held: T[];
  /** Window increments and the in-batch re-check; part of the batch that applies `allowed`. */
  statements: SQL[];
}

interface CurrentState {
  provider: string;
  external_id: string;
  organization_id: string | null;
  active: number;
  deleted_at: number | null;
  forgotten_at: number | null;
  last_event_version: string;
}

export function windowStart(now: number, windowMs: number): number {
  return Math.floor(now / windowMs) * windowMs;
}

/** Whole seconds until the window holding `now` ends and a new budget starts (at least 1). */
export function secondsToWindowEnd(now: number, windowMs: number): number {
  return Math.max(1, Math.ceil((windowStart(now, windowMs) + windowMs - now) / 1000));
}

/** The user an event would erase or deactivate, if it is that kind of event. */
function destructiveTarget(event: DirectoryEvent): { externalId: string; kind: DestructiveKind } | null {
  switch (event.kind) {
    case "user_forgotten":
      return { externalId: event.externalId, kind: "erase" };
    case "user_deleted":
      return { externalId: event.user.externalId, kind: "deactivate" };
    case "user_upserted":
      return event.user.active ? null : { externalId: event.user.externalId, kind: "deactivate" };
    default:
      return null;
  }
}

export async function planDestructive<T extends GuardCandidate>(
  d1: D1Database,
  rows: T[],
  guard: DestructiveGuardConfig,
  now: number,
): Promise<GuardPlan<T>> {
  const targets = rows.flatMap((row) => {
    const target = destructiveTarget(row.event);
    return target ? [{ row, ...target }] : [];
  });
  if (targets.length === 0) return { allowed: rows, held: [], statements: [] };

  const current = await currentStates(d1, targets.map((target) => [target.row.event.provider, target.externalId]));
  // Only effective changes count: erasing the already forgotten, deactivating the inactive, or an
  // event older than the stored state changes nothing.
  const effective = targets.filter(({ row, externalId, kind }) => {
    const state = current.get(`${row.event.provider}\u0000${externalId}`);
    if (!state || state.forgotten_at !== null) return false;
    if (versionOf(row.event) <= state.last_event_version) return false;
    return kind === "erase" || (state.active === 1 && state.deleted_at === null);
  });
  if (effective.length === 0) return { allowed: rows, held: [], statements: [] };

  // The tenant is the stored user's organization: an event cannot move a user into another
  // organization's budget. "" stands for users without one.
  const tenantOf = (target: (typeof effective)[number]) =>
    current.get(`${target.row.event.provider}\u0000${target.externalId}`)?.organization_id ?? "";
  const start = windowStart(now, guard.windowMs);
  const tenants = [...new Map(effective.map((target) => [`${target.row.event.provider}\u0000${tenantOf(target)}`, [target.row.event.provider, tenantOf(target)]])).values()];
  const budgets = await d1
    .prepare(
      `SELECT t.value ->> 0 AS provider, t.value ->> 1 AS organization,
              coalesce((SELECT w.applied FROM destructive_windows AS w
                        WHERE w.provider = t.value ->> 0 AND w.organization_id = t.value ->> 1 AND w.window_start = ?), 0) AS applied,
              -- The budget's base: users live and active now and created before this window (plus,
              -- below, those this window removed). Users created in the window (a leaked SCIM
              -- token POSTing junk, a burst of webhooks) or already inactive cannot inflate it.
              (SELECT count(*) FROM users AS u WHERE u.provider = t.value ->> 0 AND coalesce(u.organization_id, '') = t.value ->> 1
                                                 AND u.forgotten_at IS NULL AND u.deleted_at IS NULL AND u.active = 1
                                                 AND u.created_at < ?) AS size
       FROM json_each(?) AS t`,
    )
    .bind(start, start, JSON.stringify(tenants))
    .all<{ provider: string; organization: string; applied: number; size: number }>();

  const held = new Set<T>();
  const statements: SQL[] = [];
  for (const { provider, organization, applied, size } of budgets.results) {
    // Every removal this window applied took one user out of `size`: adding them back keeps the
    // base what it was when the window began, so the window can spend its whole share.
    const limit = Math.max(guard.min, Math.floor(guard.maxShare * (size + applied)));
    const ordered = effective
      .filter((target) => target.row.event.provider === provider && tenantOf(target) === organization)
      .sort((a, b) => (versionOf(a.row.event) < versionOf(b.row.event) ? -1 : 1));
    let used = applied;
    let released = 0;
    let counted = 0;
    for (const target of ordered) {
      if (target.row.released) released++;
      else if (used >= limit) {
        held.add(target.row);
        continue;
      }
      used++;
      counted++;
    }
    if (counted === 0) continue;
    statements.push(sql`
      INSERT INTO destructive_windows (provider, organization_id, window_start, applied) VALUES (${provider}, ${organization}, ${start}, ${counted})
      ON CONFLICT (provider, organization_id, window_start) DO UPDATE SET applied = destructive_windows.applied + excluded.applied`);
    // json() of a non-JSON string raises, which rolls the whole batch back: the in-batch re-check.
    statements.push(sql`
      SELECT json(CASE WHEN applied > ${limit + released} THEN 'destructive guard exceeded' ELSE '0' END)
      FROM destructive_windows WHERE provider = ${provider} AND organization_id = ${organization} AND window_start = ${start}`);
  }
  return { allowed: rows.filter((row) => !held.has(row)), held: [...held], statements };
}

async function currentStates(d1: D1Database, keys: [string, string][]): Promise<Map<string, CurrentState>> {
  const rows = await d1
    .prepare(
      `SELECT u.provider, u.external_id, u.organization_id, u.active, u.deleted_at, u.forgotten_at, u.last_event_version
       FROM users AS u JOIN json_each(?) AS k ON u.provider = k.value ->> 0 AND u.external_id = k.value ->> 1`,
    )
    .bind(JSON.stringify(keys))
    .all<CurrentState>();
  return new Map(rows.results.map((row) => [`${row.provider}\u0000${row.external_id}`, row]));
}

/** Recognizes the in-batch re-check's failure, so the consumer retries instead of recording an error. */
export function isGuardRecheckFailure(error: unknown): boolean {
  return error instanceof Error && /malformed JSON/i.test(error.message);
}
