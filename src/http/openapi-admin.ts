import * as z from "zod";
import { eventStatuses, reconcileStatuses } from "../directory/schema";
import { storedDelivery } from "../ledger/quarantine";
import { directoriesPage, directoriesQuery } from "./openapi-v1";
import { cursorOf } from "./opaque-cursor";
import { ADMIN_SECURITY, defineRoute, adminAuthResponses, cursorParam, errorBody, errorResponses, issueList, jsonResponse, nextCursor, pageLimit, timestamp } from "./openapi-common";

/**
 * The /admin contract (admin tokens only): each route's query (the validator admin.ts runs) and
 * its responses (the JSON admin.ts returns, type-checked), described in /openapi.json from these
 * same objects.
 */

const eventKey = z.object({
  provider: z.string().meta({ example: "firstup" }),
  eventId: z.string().meta({ description: "The event id (webhook-id, or derived by the provider's adapter)." }),
});
const eventStatus = z.enum(eventStatuses);
const isoSince = z.iso.datetime({ offset: true }).transform((value) => Date.parse(value));

export const Event = z
  .object({
    provider: z.string(),
    event_id: z.string(),
    subject: z.string().nullable().meta({ description: "The user or group the event is about." }),
    source_type: z.string(),
    status: eventStatus,
    reason: z.string().nullable().meta({ description: "Why it was ignored or held, as a stable code." }),
    error: z.string().nullable(),
    attempts: z.number().int(),
    occurred_at: timestamp,
    received_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    replayable: z.boolean(),
  })
  .meta({ id: "Event" });

export const EventDetail = Event.extend({
  message: z.unknown().meta({ description: "The stored queue message (JSON), or null." }),
  delivery: z
    .union([storedDelivery, z.object({ unreadable: z.string() })])
    .nullable()
    .meta({ description: "Quarantined or rejected rows: the delivery as received (body included)." }),
}).meta({ id: "EventDetail" });

export const DeadLetter = z
  .object({
    message_id: z.string(),
    provider: z.string().nullable(),
    event_id: z.string().nullable(),
    subject: z.string().nullable(),
    recorded_at: z.iso.datetime(),
    body: z.unknown().meta({ description: "The message body: parsed JSON, or the text verbatim when it is not JSON." }),
  })
  .meta({ id: "DeadLetter" });

export const RunReport = z
  .object({
    id: z.string(),
    provider: z.string(),
    scope: z.string().meta({ description: '"" for a run over the whole upstream (or a Scalekit discovery run); a Scalekit directory id.' }),
    status: z.enum(reconcileStatuses),
    phase: z.enum(["scan", "sweep", "finish", "done"]),
    trigger: z.string(),
    startedAt: z.iso.datetime(),
    finishedAt: timestamp,
    durationMs: z.number().int().nullable(),
    checkpoint: z.object({
      nextStartIndex: z.number().int(),
      sweepAfter: z.string(),
      stage: z.string().nullable().meta({ description: "Scalekit runs: discovery, or users, groups, members, confirm, finish." }),
      step: z.number().int().meta({ description: "Steps committed so far." }),
    }),
    upstreamTotal: z.number().int().nullable(),
    pages: z.number().int(),
    scanned: z.number().int(),
    created: z.number().int(),
    updated: z.number().int(),
    unchanged: z.number().int(),
    deactivated: z.number().int(),
    forgotten: z.number().int(),
    groupsChanged: z.number().int(),
    membershipsChanged: z.number().int(),
    errors: z.number().int(),
    lastError: z.string().nullable(),
    note: z.string().nullable(),
  })
  .meta({ id: "RunReport" });

const statusOfRow = { status: eventStatus.meta({ description: "The event's current status." }) };

export const listEvents = defineRoute({
  method: "get",
  path: "/events",
  summary: "The event log: events that need attention newest first, the rest in key order",
  description:
    "With `status` failed, dead_lettered, held, quarantined or rejected, events come newest first. Otherwise (applied, ignored, or no status) they come in (provider, event_id) order, and a page looks at 5,000 keys at most: it may hold fewer than `limit` events while `next_cursor` says there is more. Follow `next_cursor` until it is null.",
  security: ADMIN_SECURITY,
  request: {
    query: z.object({
      status: eventStatus.optional(),
      provider: z.string().min(1).max(64).optional(),
      since: isoSince.optional().meta({ description: "ISO 8601; received at or after." }),
      until: isoSince.optional().meta({ description: "ISO 8601; received at or before." }),
      cursor: cursorParam(cursorOf(z.tuple([z.number().int(), z.string(), z.string()]))),
      limit: pageLimit(200, 50),
    }),
  },
  responses: {
    ...adminAuthResponses,
    200: jsonResponse(z.object({ events: z.array(Event), next_cursor: nextCursor }), "A page of events."),
    400: errorResponses.invalidQuery,
  },
});

export const getEvent = defineRoute({
  method: "get",
  path: "/events/{provider}/{eventId}",
  summary: "One event, with its stored message or delivery",
  security: ADMIN_SECURITY,
  request: { params: eventKey },
  responses: { ...adminAuthResponses, 200: jsonResponse(EventDetail, "The event.") },
});

export const replayEvent = defineRoute({
  method: "post",
  path: "/events/{provider}/{eventId}/replay",
  summary: "Replay a failed or dead-lettered event; re-parse a quarantined or rejected delivery",
  security: ADMIN_SECURITY,
  request: { params: eventKey },
  responses: {
    ...adminAuthResponses,
    202: jsonResponse(
      z.object({
        replayed: z.literal(true),
        provider: z.string(),
        event_id: z.string(),
        outcome: z.enum(["event", "ignored"]).optional().meta({ description: "Re-parsed deliveries only." }),
        enqueued_event_ids: z.array(z.string()).optional().meta({ description: "Re-parsed deliveries only." }),
      }),
      "Enqueued.",
    ),
    404: jsonResponse(errorBody(["not_found", "provider_not_found"]), "No such event, or its provider's adapter is not deployed."),
    409: jsonResponse(errorBody(["not_replayable"], { status: statusOfRow.status.optional() }), "Not in a replayable status (`status` says which), or nothing stored to replay."),
    422: jsonResponse(errorBody(["undecodable", "still_invalid"], { issues: issueList.optional() }), "The stored message or delivery does not decode with this version."),
    503: jsonResponse(errorBody(["queue_unavailable"]), "The Queue refused; nothing changed. Sent with Retry-After."),
  },
});

export const releaseEvent = defineRoute({
  method: "post",
  path: "/events/{provider}/{eventId}/release",
  summary: "Release a held event",
  security: ADMIN_SECURITY,
  request: { params: eventKey },
  responses: {
    ...adminAuthResponses,
    202: jsonResponse(z.object({ released: z.literal(true), provider: z.string(), event_id: z.string() }), "Enqueued, marked released."),
    409: jsonResponse(errorBody(["not_held", "not_replayable"], { status: statusOfRow.status.optional() }), "The event is not held, or has no stored message."),
    422: jsonResponse(errorBody(["undecodable"]), "The stored message does not decode with this version."),
  },
});

export const listDeadLetters = defineRoute({
  method: "get",
  path: "/dead-letters",
  summary: "Dead letters, newest first",
  security: ADMIN_SECURITY,
  request: { query: z.object({ cursor: cursorParam(cursorOf(z.tuple([z.number().int(), z.string()]))), limit: pageLimit(200, 50) }) },
  responses: {
    ...adminAuthResponses,
    200: jsonResponse(z.object({ dead_letters: z.array(DeadLetter), next_cursor: nextCursor }), "A page of dead letters."),
    400: errorResponses.invalidQuery,
  },
});

export const replayDeadLetter = defineRoute({
  method: "post",
  path: "/dead-letters/{messageId}/replay",
  summary: "Re-enqueue a dead letter's body",
  security: ADMIN_SECURITY,
  request: { params: z.object({ messageId: z.string() }) },
  responses: {
    ...adminAuthResponses,
    202: jsonResponse(z.object({ replayed: z.literal(true), message_id: z.string() }), "Enqueued."),
    422: jsonResponse(errorBody(["undecodable", "not_replayable"]), "The body is not a message this version can process."),
  },
});

const reconcileStarted = z.object({ started: z.boolean(), resumed: z.boolean(), run: RunReport });

export const startReconcile = defineRoute({
  method: "post",
  path: "/reconcile/{provider}",
  summary: "Start a reconciliation run now, or resume a stalled one",
  security: ADMIN_SECURITY,
  request: { params: z.object({ provider: z.string().meta({ example: "firstup" }) }) },
  responses: {
    ...adminAuthResponses,
    200: jsonResponse(reconcileStarted, "A run was already going (resumed: true if it had stalled)."),
    202: jsonResponse(reconcileStarted, "A run started."),
    404: jsonResponse(errorBody(["not_found", "provider_not_found"]), "Not a provider with a configured SCIM upstream."),
    503: errorResponses.misconfigured,
  },
});

export const listRuns = defineRoute({
  method: "get",
  path: "/reconcile/runs",
  summary: "Recent reconciliation runs",
  security: ADMIN_SECURITY,
  request: { query: z.object({ provider: z.string().min(1).max(64).optional(), limit: pageLimit(100, 20) }) },
  responses: {
    ...adminAuthResponses,
    200: jsonResponse(z.object({ runs: z.array(RunReport) }), "Newest first."),
    400: errorResponses.invalidQuery,
  },
});

export const getRun = defineRoute({
  method: "get",
  path: "/reconcile/runs/{id}",
  summary: "One run's report",
  security: ADMIN_SECURITY,
  request: { params: z.object({ id: z.string() }) },
  responses: { ...adminAuthResponses, 200: jsonResponse(RunReport, "The run.") },
});

export const listDirectories = defineRoute({
  method: "get",
  path: "/directories",
  summary: "Every directory, enabled or disabled",
  description: "The same rows as GET /v1/directories, for operators: a disabled directory is a customer switching sync off.",
  security: ADMIN_SECURITY,
  request: { query: directoriesQuery },
  responses: {
    ...adminAuthResponses,
    200: directoriesPage,
    400: errorResponses.invalidQuery,
  },
});
