import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { isGuardRecheckFailure, planDestructive, secondsToWindowEnd, type DestructiveGuardConfig } from "../../consumer/destructive-guard";
import { recordHeldOnce } from "../../consumer/event-log";
import { countOutcomes } from "../../consumer/pipeline-hourly";
import { runAtomically } from "../../d1";
import type { DirectoryEvent } from "../../events";
import { log } from "../../log";
import { QUEUE_MESSAGE_VERSION, type EventMessage } from "../../queue-message";
import { commit, type Expectation, type UniqueName } from "./store";

/**
 * A connection's user writes (PUT, PATCH, DELETE) under the webhook path's destructive guard
 * (consumer/destructive-guard.ts), with the same budget: a write that deactivates an active user,
 * or deletes one, counts against max(DESTRUCTIVE_GUARD_MIN, DESTRUCTIVE_GUARD_MAX_SHARE × the
 * organization's users) per provider (`scim-<id>`, the connection), organization and window. Past
 * it nothing is applied: the write is recorded in event_log as `held` (`destructive_guard`) with
 * its queue message, for an operator to release (POST /admin/events/:provider/:eventId/release,
 * which the consumer applies, version-guarded), and the IdP is told when the window ends. So a
 * leaked connection token deactivates at most one budget per window, never a whole connection.
 *
 * A destructive write's event id comes from the user and the version it builds on
 * (`scim:deactivate:<digest>`, `scim:delete:<digest>`), not from the request. The IdP's retries of
 * a held write therefore land on the same held row (the first message held is kept: a later
 * request with the same id, whatever its content, cannot change what an operator releases),
 * and the retry a new window lets through applies under that id: the row turns `applied` and
 * cannot be released a second time. A new row appears only after a write to the user applied
 * (a new version), so held rows per user grow with applied writes, never with retries.
 */

export type GuardedWrite =
  | { outcome: "applied" }
  /** commit's unique-name check failed inside the batch: nothing was written. */
  | { outcome: "name_taken" }
  /** Past the window's budget: recorded as held for an operator, nothing applied. */
  | { outcome: "held"; retryAfterSeconds: number }
  /** Concurrent writes spent the budget while this one was committing, twice: nothing applied or recorded. */
  | { outcome: "contended"; retryAfterSeconds: number };

type UserWrite = Extract<DirectoryEvent, { kind: "user_upserted" | "user_deleted" }>;
type DestructiveWrite = "deactivate" | "delete";

/** One plan-and-commit, then one more after a failed in-batch re-check (the plan then sees the spent window). */
const COMMIT_TRIES = 2;
/** A contended write recorded nothing, so its retry should come soon, to be applied or held. */
const CONTENDED_RETRY_AFTER_SECONDS = 1;

export async function commitUserWrite(
  d1: D1Database,
  write: UserWrite,
  now: number,
  options: {
    /** Read only for a write that could be destructive: a bad guard setting never stops profile updates. */
    guard: () => DestructiveGuardConfig;
    /** What the write was computed from; `record.version` is also what its destructive event id derives from. */
    expect: Expectation & { record: NonNullable<Expectation["record"]> };
    unique?: UniqueName;
  },
): Promise<GuardedWrite> {
  const kind = destructiveWrite(write);
  if (!kind) return (await commit(d1, [write], now, options.unique, options.expect)) ? { outcome: "applied" } : { outcome: "name_taken" };

  const guard = options.guard();
  const event: UserWrite = { ...write, eventId: destructiveEventId(kind, write.user.externalId, options.expect.record.version) };
  for (let attempt = 0; attempt < COMMIT_TRIES; attempt++) {
    // Only effective changes count: deactivating an inactive user is free, as on the webhook path.
    const plan = await planDestructive(d1, [{ event, released: false }], guard, now);
    if (plan.held.length > 0) {
      await recordHeld(d1, event, now);
      return { outcome: "held", retryAfterSeconds: secondsToWindowEnd(now, guard.windowMs) };
    }
    try {
      return (await commit(d1, [event], now, options.unique, options.expect, plan.statements)) ? { outcome: "applied" } : { outcome: "name_taken" };
    } catch (error) {
      if (!isGuardRecheckFailure(error)) throw error;
      // Concurrent deactivations pushed the window past the budget between the plan and the batch.
      log("scim.guard_recheck", { provider: event.provider, eventId: event.eventId, attempt: attempt + 1 });
    }
  }
  return { outcome: "contended", retryAfterSeconds: CONTENDED_RETRY_AFTER_SECONDS };
}

/** A DELETE, or a PUT/PATCH that leaves the user inactive; whether it changes anything is the plan's to say. */
function destructiveWrite(write: UserWrite): DestructiveWrite | null {
  if (write.kind === "user_deleted") return "delete";
  return write.user.active ? null : "deactivate";
}

/** `scim:<kind>:<32 hex of sha256(user id, version read)>`: printable, bounded, one per user state. */
function destructiveEventId(kind: DestructiveWrite, userId: string, versionRead: string): string {
  return `scim:${kind}:${bytesToHex(sha256(utf8ToBytes(`${userId}\u0000${versionRead}`))).slice(0, 32)}`;
}

/** The write as a held queue message: releasing it sends exactly this to the consumer, marked released. */
async function recordHeld(d1: D1Database, event: UserWrite, now: number): Promise<void> {
  const message: EventMessage = { v: QUEUE_MESSAGE_VERSION, kind: "event", receivedAt: now, event };
  // Counted once, when first held: the IdP's retries of the same write land on the same row.
  const counted = countOutcomes([{ provider: event.provider, eventId: event.eventId, status: "held" }], now, "new_row");
  await runAtomically(d1, [...counted, recordHeldOnce({ message, attempts: 1, note: null }, "destructive_guard", now)]);
  log("event.held", { provider: event.provider, eventId: event.eventId, reason: "destructive_guard" });
}
