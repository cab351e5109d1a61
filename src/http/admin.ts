import type { Context } from "hono";
import { getEvent, listDeadLetters, listEvents, type DeadLetterRow, type EventRow } from "../consumer/operator-reads";
import { isReplayable, replayDeadLetter, replayEvent, type EventReplayResult } from "../operator/replay";
import { storedDelivery } from "../ledger/quarantine";
import { providers as registeredProviders } from "../providers";
import type { ProviderAdapter } from "../providers/types";
import { recentRuns, loadRun, type ReconcileRun } from "../reconcile/runs";
import { startRunNow } from "../operator/runs";
import { UNSCOPED } from "../directory/read";
import { adminAuth } from "./auth";
import { heldEventRoutes } from "./admin-held";
import { notificationRoutes } from "./admin-notifications";
import { scimConnectionAdminRoutes } from "./admin-scim-connections";
import { importAdminRoutes } from "./admin-import";
import type { AppEnv } from "./app-env";
import { errorResponse } from "./errors";
import { encodeCursor } from "./opaque-cursor";
import * as routes from "./openapi-admin";
import { directoryPage } from "./v1";
import { isoTime, TypedRouter } from "./openapi-common";

/**
 * Operator routes under /admin (Bearer ADMIN_TOKEN):
 * - GET  /admin/events                                  the event log (?status, provider, since, until, cursor, limit)
 * - GET  /admin/events/:provider/:eventId               one event, with its error, stored message or stored delivery
 * - POST /admin/events/:provider/:eventId/replay        re-enqueue a failed or dead-lettered event; re-parse a
 *                                                       quarantined or rejected delivery with the current adapter
 * - GET  /admin/dead-letters                            dead letters, newest first (?cursor, limit)
 * - POST /admin/dead-letters/:messageId/replay          re-enqueue a dead letter's body
 * - POST /admin/reconcile/:provider                     start a reconciliation run now (or resume a stalled one)
 * - GET  /admin/reconcile/runs                          recent runs (?provider=firstup&limit=20)
 * - GET  /admin/reconcile/runs/:id                      one run's report
 * - GET  /admin/directories                            every directory, enabled or disabled (?provider, organization_id, enabled)
 * - /admin/notifications…                               outbound change notifications (admin-notifications.ts)
 * - /admin/scim-connections…                            SCIM connections an IdP provisions into (admin-scim-connections.ts)
 * - /admin/import, /admin/import/:id, /admin/imports    bulk import of users (admin-import.ts)
 * Requests and responses are declared in openapi-admin.ts (served at /openapi.json).
 */
export interface AdminRouteOptions {
  /** The adapters a quarantined delivery is re-parsed with; tests inject a fixed version. Defaults to the registry. */
  providers?: ReadonlyMap<string, ProviderAdapter>;
}

export function adminRoutes(options: AdminRouteOptions = {}) {
  const providers = options.providers ?? registeredProviders;
  const app = new TypedRouter<AppEnv>();
  app.use("*", adminAuth());
  app.nest("/", heldEventRoutes());
  app.nest("/", notificationRoutes());
  app.nest("/", scimConnectionAdminRoutes());
  app.nest("/", importAdminRoutes());

  app.openapi(routes.listEvents, async (c) => {
    const { cursor, limit, ...filters } = c.req.valid("query");
    // receivedAt -1 marks a key-order cursor (consumer/operator-reads.ts listEvents).
    const after = cursor ? { receivedAt: cursor[0] < 0 ? null : cursor[0], provider: cursor[1], eventId: cursor[2] } : null;
    const { rows, next } = await listEvents(c.env.DB, filters, { after, limit });
    return c.json(
      {
        events: rows.map(eventJson),
        next_cursor: next ? encodeCursor([next.receivedAt ?? -1, next.provider, next.eventId]) : null,
      },
      200,
    );
  });

  app.openapi(routes.getEvent, async (c) => {
    const key = c.req.valid("param");
    const row = await getEvent(c.env.DB, key.provider, key.eventId);
    return row ? c.json(eventDetailJson(row), 200) : errorResponse(c, 404, "not_found");
  });

  app.openapi(routes.replayEvent, async (c) => {
    const result = await replayEvent({ d1: c.env.DB, queue: c.env.EVENTS_QUEUE, now: c.get("now") }, providers, c.req.valid("param"));
    if (!result.ok) return replayRefusal(c, result);
    const { row } = result;
    if (result.from === "message") return c.json({ replayed: true as const, provider: row.provider, event_id: row.eventId }, 202);
    return c.json({ replayed: true as const, provider: row.provider, event_id: row.eventId, outcome: result.outcome, enqueued_event_ids: result.eventIds }, 202);
  });

  app.openapi(routes.listDeadLetters, async (c) => {
    const query = c.req.valid("query");
    const after = query.cursor ? { recordedAt: query.cursor[0], messageId: query.cursor[1] } : null;
    const rows = await listDeadLetters(c.env.DB, { after, limit: query.limit + 1 });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return c.json(
      {
        dead_letters: page.map(deadLetterJson),
        next_cursor: rows.length > query.limit && last ? encodeCursor([last.recordedAt, last.messageId]) : null,
      },
      200,
    );
  });

  app.openapi(routes.replayDeadLetter, async (c) => {
    const messageId = c.req.valid("param").messageId;
    const result = await replayDeadLetter({ d1: c.env.DB, queue: c.env.EVENTS_QUEUE }, messageId);
    if (!result.ok) return result.reason === "not_found" ? errorResponse(c, 404, "not_found") : errorResponse(c, 422, result.reason);
    return c.json({ replayed: true as const, message_id: messageId }, 202);
  });

  app.openapi(routes.startReconcile, async (c) => {
    const result = await startRunNow({ env: c.env, queue: c.env.EVENTS_QUEUE, now: c.get("now") }, c.req.valid("param").provider);
    if (!result.ok) return errorResponse(c, 404, result.reason);
    const body = { started: result.started, resumed: result.resumed, run: runReport(result.run) };
    return result.started ? c.json(body, 202) : c.json(body, 200);
  });

  app.openapi(routes.listRuns, async (c) => {
    const query = c.req.valid("query");
    const runs = await recentRuns(c.env.DB, query.provider ?? null, query.limit);
    return c.json({ runs: runs.map(runReport) }, 200);
  });

  app.openapi(routes.listDirectories, async (c) => c.json(await directoryPage(c.env.DB, c.req.valid("query"), UNSCOPED), 200));

  app.openapi(routes.getRun, async (c) => {
    const run = await loadRun(c.env.DB, c.req.valid("param").id);
    return run ? c.json(runReport(run), 200) : errorResponse(c, 404, "not_found");
  });
  return app;
}

/** A refused replay as the JSON API answers it (the console words the same codes as notices). */
function replayRefusal(c: Context<AppEnv>, result: Extract<EventReplayResult, { ok: false }>) {
  switch (result.reason) {
    case "not_found":
    case "provider_not_found":
      return errorResponse(c, 404, result.reason);
    case "still_invalid":
      return errorResponse(c, 422, "still_invalid", { issues: result.issues });
    case "undecodable":
      return errorResponse(c, 422, "undecodable");
    case "queue_unavailable":
      return errorResponse(c, 503, "queue_unavailable", {}, { "Retry-After": "30" });
    case "not_replayable":
      return errorResponse(c, 409, "not_replayable", { status: result.status });
  }
}

/** An event log row as operators read it. */
function eventJson(row: EventRow) {
  return {
    provider: row.provider,
    event_id: row.eventId,
    subject: row.subject,
    source_type: row.sourceType,
    status: row.status,
    reason: row.reason,
    error: row.error,
    attempts: row.attempts,
    occurred_at: isoTime(row.occurredAt),
    received_at: isoTime(row.receivedAt),
    updated_at: isoTime(row.updatedAt),
    replayable: isReplayable(row),
  };
}

/** The single-event route adds the stored message and delivery. */
function eventDetailJson(row: EventRow) {
  return { ...eventJson(row), message: row.message === null ? null : (JSON.parse(row.message) as unknown), delivery: deliveryJson(row.delivery) };
}

/** A quarantined or rejected delivery as stored (body text or base64, webhook id, signed time, headers). */
function deliveryJson(stored: string | null) {
  if (stored === null) return null;
  try {
    const parsed = storedDelivery.safeParse(JSON.parse(stored));
    if (parsed.success) return parsed.data;
  } catch {
    // shown verbatim below
  }
  return { unreadable: stored };
}

function deadLetterJson(row: DeadLetterRow) {
  let body: unknown = row.body;
  try {
    body = JSON.parse(row.body);
  } catch {
    // kept verbatim: dead letters are recorded even when they do not decode
  }
  return { message_id: row.messageId, provider: row.provider, event_id: row.eventId, subject: row.subject, recorded_at: isoTime(row.recordedAt), body };
}

/** A run as operators read it. Documented in README.md ("Reading a run's report"). */
/** A token-paged source's stage, from its checkpoint (never its page tokens). */
function stageOf(checkpoint: string | null): string | null {
  if (checkpoint === null) return null;
  try {
    const parsed = JSON.parse(checkpoint) as { kind?: unknown; stage?: unknown };
    return parsed.kind === "discovery" ? "discovery" : typeof parsed.stage === "string" ? parsed.stage : null;
  } catch {
    return null;
  }
}

export function runReport(run: ReconcileRun) {
  return {
    id: run.id,
    provider: run.provider,
    scope: run.scope,
    status: run.status,
    phase: run.phase,
    trigger: run.trigger,
    startedAt: isoTime(run.startedAt),
    finishedAt: isoTime(run.finishedAt),
    durationMs: run.finishedAt === null ? null : run.finishedAt - run.startedAt,
    checkpoint: { nextStartIndex: run.nextStartIndex, sweepAfter: run.sweepAfter, stage: stageOf(run.checkpoint), step: run.step },
    upstreamTotal: run.upstreamTotal,
    pages: run.pages,
    scanned: run.scanned,
    created: run.created,
    updated: run.updated,
    unchanged: run.unchanged,
    deactivated: run.deactivated,
    forgotten: run.forgotten,
    groupsChanged: run.groupsChanged,
    membershipsChanged: run.membershipsChanged,
    errors: run.errors,
    lastError: run.lastError,
    note: run.note,
  };
}
