import type { DirectoryEvent } from "../../events";
import type { HoldReason, RefreshEvent, RefreshUpstream, Resolution, ResolveContext, WaitReason } from "../types";
import { ScimRequestError, type ScimClient } from "./scim-client";
import { lastModifiedOf, toDirectoryUser } from "./scim-user";

/**
 * Turns "user X changed" into what the upstream shows now.
 *
 * One clock per subject: every state this produces for a SCIM-backed provider, erasure included,
 * is versioned by the time the consumer observed it (`ctx.now()` after the read), never by the
 * webhook's timestamp or the upstream's `meta.lastModified`. Two observations of the same upstream
 * therefore always compare, and a read that happened before an erasure was confirmed can never
 * undo it, whatever order the two commit in.
 *
 * Erasure needs evidence a misconfiguration cannot produce: a 404 whose body is a SCIM Error
 * (a bare 404 is held), seen twice `absenceConfirmDelaySeconds` apart, or once for a signed
 * `user.deleted`; and the upstream must be the directory we mirror: it must still have one of a few
 * other users we hold as live (a wrong but populated tenant has none of them), or, when we hold no
 * one else, list someone at all (an empty tenant lists no one).
 */
export async function resolveRefresh(event: RefreshEvent, client: ScimClient, ctx: ResolveContext): Promise<Resolution> {
  let record;
  try {
    record = await client.getUser(event.externalId);
  } catch (error) {
    if (!(error instanceof ScimRequestError) || error.kind !== "not_found_unverified") throw error;
    if (ctx.released) return forget(event, ctx.now(), "forgotten_on_release");
    return { outcome: "hold", reason: "absence_unverified" };
  }
  const observedAt = ctx.now();

  if (record === null) {
    if (ctx.released) return forget(event, observedAt, "forgotten_on_release");
    const confirmedBySignedDelete = event.reason === "deleted" && event.signed === true;
    const confirmedBySecondRead = ctx.absentSince !== undefined && observedAt - ctx.absentSince >= ctx.absenceConfirmDelaySeconds * 1000;
    if (!confirmedBySignedDelete && !confirmedBySecondRead) {
      return { outcome: "wait", reason: "confirming_absence", delaySeconds: ctx.absenceConfirmDelaySeconds, absentSince: ctx.absentSince ?? observedAt };
    }
    const recognized = await recognizesDirectory(client, (await ctx.knownLiveUsers?.()) ?? []);
    if (recognized !== "yes") return { outcome: "hold", reason: recognized === "empty" ? "upstream_empty" : "upstream_mismatch" };
    return forget(event, observedAt, "forgotten_upstream");
  }

  const user = toDirectoryUser(record);
  const snapshot = (note: string | null): Resolution => ({
    outcome: "apply",
    event: { provider: event.provider, eventId: event.eventId, sourceType: event.sourceType, kind: "user_upserted", occurredAt: observedAt, user },
    note,
  });
  if (event.reason === "updated" || !user.active) {
    // A deleted user that the upstream keeps as an inactive record is deactivated: confirmed.
    return snapshot(event.reason === "deleted" ? "deletion_seen_as_deactivation" : null);
  }

  // The event says deactivated or deleted, and the record is still active.
  const lastModified = lastModifiedOf(record);
  if (lastModified !== null && lastModified >= event.occurredAt) {
    // The upstream changed the user after the event (say, reactivated them): the record is newer.
    return snapshot(event.reason === "deactivated" ? "deactivation_superseded" : "deletion_superseded");
  }
  if (observedAt - ctx.receivedAt < ctx.confirmBudgetMs) {
    return { outcome: "wait", reason: event.reason === "deactivated" ? "awaiting_deactivation" : "awaiting_deletion", delaySeconds: ctx.waitDelaySeconds };
  }
  return { outcome: "fail", code: event.reason === "deactivated" ? "deactivation_not_confirmed" : "deletion_not_confirmed" };
}

/**
 * Whether the upstream is the directory this service mirrors. With other live users on record, it
 * must still have one of them (each GET is one subrequest; a sample of three); with none, it must
 * list someone.
 */
async function recognizesDirectory(client: ScimClient, sample: string[]): Promise<"yes" | "empty" | "mismatch"> {
  if (sample.length === 0) return (await listsSomeone(client)) ? "yes" : "empty";
  for (const id of sample) {
    try {
      if (await client.getUser(id)) return "yes";
    } catch (error) {
      if (!(error instanceof ScimRequestError) || error.transient || error.kind === "unauthorized") throw error;
    }
  }
  return "mismatch";
}

/**
 * Whether the upstream lists at least one user. A wrong tenant or path answers every GET with a
 * SCIM 404 too, so an absence only counts when the same base URL still holds a directory.
 */
async function listsSomeone(client: ScimClient): Promise<boolean> {
  try {
    return (await client.countUsers()) > 0;
  } catch (error) {
    if (error instanceof ScimRequestError && !error.transient && error.kind !== "unauthorized") return false;
    throw error;
  }
}

function forget(event: RefreshEvent, observedAt: number, note: string): Resolution {
  return {
    outcome: "apply",
    event: { provider: event.provider, eventId: event.eventId, sourceType: event.sourceType, kind: "user_forgotten", occurredAt: observedAt, externalId: event.externalId },
    note,
  };
}

/** Firstup's SCIM API as the consumer's refresh upstream. */
export function scimRefreshUpstream(client: ScimClient): RefreshUpstream {
  return { resolve: (event, context) => resolveRefresh(event, client, context) };
}
