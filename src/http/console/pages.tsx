import { Hono } from "hono";
import * as z from "zod";
import { EVENT_SCAN_WINDOW, ATTENTION_STATUSES, getEvent, listEvents } from "../../consumer/operator-reads";
import { listDirectories } from "../../directory/directories";
import { UNSCOPED } from "../../directory/read";
import { eventStatuses } from "../../directory/schema";
import { storedDelivery } from "../../ledger/quarantine";
import { deadLetterPage, runPage } from "../../operator/reads";
import { isReplayable, MAX_DEAD_LETTERS_PER_REPLAY, replayDeadLetters, replayEvent, type EventReplayResult } from "../../operator/replay";
import { reconcileProviderStates, startRunNow } from "../../operator/runs";
import { providers as registeredProviders } from "../../providers";
import { loadRun } from "../../reconcile/runs";
import { connectionBaseUrl, listConnections, livePreviousTokenExpiry } from "../../scim/connections";
import { DeadLettersPage } from "../../console/views/dead-letters";
import { DirectoriesPage } from "../../console/views/directories";
import { EventDetailPage, EventLogPage, type EventFilterValues } from "../../console/views/events";
import { eventPath, runPath } from "../../console/views/format";
import { noticeFrom, type Notice } from "../../console/views/layout";
import { RunDetailPage, RunsPage } from "../../console/views/runs";
import { cursorOf, encodeCursor } from "../opaque-cursor";
import { consoleErrorPage, renderPage } from "./render";
import type { ConsoleEnv } from "./session";

/**
 * The console's pages under /admin/console (mounted by index.tsx behind the session, CSRF and
 * admin-on-POST middleware):
 * - GET  /events                              the event log (?status, provider, type, from, to, cursor)
 * - GET  /events/:provider/:eventId           one event, its error; Replay (admin) when replayable
 * - POST /events/:provider/:eventId/replay    → 303 back with ?notice=<code>
 * - GET  /dead-letters                        newest first, with their event's status now (?cursor)
 * - POST /dead-letters/replay                 `id` (checkboxes) or `only` (a row's button) → 303 ?notice=replayed-<n>[-failed-<m>]
 * - GET  /runs, /runs/:id                     reconciliation runs and a run's report (why its guard tripped)
 * - POST /runs                                `provider` → starts a run (or finds the running one), 303 to it
 * - GET  /directories                         directories and SCIM connections
 * Every list is one bounded page; actions run the same code as the JSON API (src/operator).
 */

/** Rows per list page. */
export const CONSOLE_PAGE_SIZE = 50;

export function consolePageRoutes() {
  const app = new Hono<ConsoleEnv>();

  app.get("/events", async (c) => {
    const query = eventLogQuery.safeParse(c.req.query());
    if (!query.success) return consoleErrorPage(c, 400, "invalid_query");
    const { status, provider, type, from, to, cursor } = query.data;
    const after = cursor ? { receivedAt: cursor[0] < 0 ? null : cursor[0], provider: cursor[1], eventId: cursor[2] } : null;
    const filters = { status, provider, sourceType: type, since: from?.ms, until: to === undefined ? undefined : to.ms - 1 };
    const { rows, next } = await listEvents(c.env.DB, filters, { after, limit: CONSOLE_PAGE_SIZE });
    const shown: EventFilterValues = { status, provider, type, from: from?.text, to: to?.text };
    const attention = status !== undefined && ATTENTION_STATUSES.includes(status);
    return renderPage(
      c,
      <EventLogPage
        session={c.get("console")}
        filters={shown}
        rows={rows}
        nextHref={next ? pageHref("/admin/console/events", { ...shown, cursor: encodeCursor([next.receivedAt ?? -1, next.provider, next.eventId]) }) : null}
        // The same windows listEvents walks (consumer/operator-reads.ts).
        scanWindow={!attention || provider !== undefined || type !== undefined ? EVENT_SCAN_WINDOW : null}
        order={attention ? "newest" : "key"}
        pageSize={CONSOLE_PAGE_SIZE}
        knownProviders={[...registeredProviders.keys()]}
        continued={cursor !== undefined}
      />,
    );
  });

  app.get("/events/:provider/:eventId", async (c) => {
    const key = eventKey.safeParse(c.req.param());
    const row = key.success ? await getEvent(c.env.DB, key.data.provider, key.data.eventId) : null;
    if (!row) return consoleErrorPage(c, 404, "not_found");
    const session = c.get("console");
    // Stored payloads only for admins, as only admin tokens read them through GET /admin/events/:id.
    const stored = session.role === "admin" ? { message: prettyMessage(row.message), delivery: prettyDelivery(row.delivery) } : null;
    const notice = noticeFrom(c.req.query("notice"), EVENT_NOTICES);
    return renderPage(c, <EventDetailPage session={session} row={row} notice={notice} replayable={isReplayable(row)} stored={stored} />);
  });

  app.post("/events/:provider/:eventId/replay", async (c) => {
    const key = eventKey.safeParse(c.req.param());
    if (!key.success) return consoleErrorPage(c, 404, "not_found");
    const result = await replayEvent({ d1: c.env.DB, queue: c.env.EVENTS_QUEUE, now: c.get("now") }, registeredProviders, key.data);
    if (!result.ok && result.reason === "not_found") return consoleErrorPage(c, 404, "not_found");
    return c.redirect(`${eventPath(key.data.provider, key.data.eventId)}?notice=${replayNotice(result)}`, 303);
  });

  app.get("/dead-letters", async (c) => {
    const query = positionQuery.safeParse(c.req.query());
    if (!query.success) return consoleErrorPage(c, 400, "invalid_query");
    const before = query.data.cursor?.[0] ?? null;
    const { rows, next } = await deadLetterPage(c.env.DB, { before, limit: CONSOLE_PAGE_SIZE });
    return renderPage(
      c,
      <DeadLettersPage
        session={c.get("console")}
        rows={rows}
        notice={deadLetterNotice(c.req.query("notice"))}
        nextHref={next === null ? null : pageHref("/admin/console/dead-letters", { cursor: encodeCursor([next]) })}
        continued={before !== null}
        maxPerReplay={MAX_DEAD_LETTERS_PER_REPLAY}
      />,
    );
  });

  app.post("/dead-letters/replay", async (c) => {
    const form = replayForm.safeParse(await c.req.parseBody({ all: true }));
    if (!form.success) return consoleErrorPage(c, 400, "invalid_form");
    // A row's own button names that row alone; "Replay selected" sends the checked boxes.
    const ids = form.data.only !== undefined ? [form.data.only] : [...new Set(form.data.id)];
    if (ids.length === 0) return c.redirect("/admin/console/dead-letters?notice=nothing-selected", 303);
    if (ids.length > MAX_DEAD_LETTERS_PER_REPLAY) return consoleErrorPage(c, 400, "too_many_selected");
    const results = await replayDeadLetters({ d1: c.env.DB, queue: c.env.EVENTS_QUEUE }, ids);
    const replayed = [...results.values()].filter((result) => result.ok).length;
    const failed = ids.length - replayed;
    return c.redirect(`/admin/console/dead-letters?notice=replayed-${replayed}${failed > 0 ? `-failed-${failed}` : ""}`, 303);
  });

  app.get("/runs", async (c) => {
    const query = positionQuery.safeParse(c.req.query());
    if (!query.success) return consoleErrorPage(c, 400, "invalid_query");
    const before = query.data.cursor?.[0] ?? null;
    const { rows, next } = await runPage(c.env.DB, { before, limit: CONSOLE_PAGE_SIZE });
    return renderPage(
      c,
      <RunsPage
        session={c.get("console")}
        runs={rows}
        providers={reconcileProviderStates(c.env)}
        notice={noticeFrom(c.req.query("notice"), RUN_NOTICES)}
        nextHref={next === null ? null : pageHref("/admin/console/runs", { cursor: encodeCursor([next]) })}
        continued={before !== null}
      />,
    );
  });

  app.post("/runs", async (c) => {
    const form = startRunForm.safeParse(await c.req.parseBody({ all: true }));
    if (!form.success) return consoleErrorPage(c, 400, "invalid_form");
    const result = await startRunNow({ env: c.env, queue: c.env.EVENTS_QUEUE, now: c.get("now") }, form.data.provider);
    if (!result.ok) return c.redirect("/admin/console/runs?notice=provider-not-configured", 303);
    const notice = result.started ? "started" : result.resumed ? "resumed" : "already-running";
    return c.redirect(`${runPath(result.run.id)}?notice=${notice}`, 303);
  });

  app.get("/runs/:id", async (c) => {
    const id = c.req.param("id");
    const run = id.length <= 64 ? await loadRun(c.env.DB, id) : null;
    if (!run) return consoleErrorPage(c, 404, "not_found");
    return renderPage(c, <RunDetailPage session={c.get("console")} run={run} notice={noticeFrom(c.req.query("notice"), RUN_NOTICES)} />);
  });

  app.get("/directories", async (c) => {
    const query = directoriesQuery.safeParse(c.req.query());
    if (!query.success) return consoleErrorPage(c, 400, "invalid_query");
    const { directories: directoryCursor, connections: connectionCursor } = query.data;
    const after = directoryCursor ? { provider: directoryCursor[0], externalId: directoryCursor[1] } : null;
    const directoryRows = await listDirectories(c.env.DB, {}, { after, limit: CONSOLE_PAGE_SIZE + 1 }, UNSCOPED);
    const connectionRows = await listConnections(c.env.DB, {}, { afterId: connectionCursor?.[0] ?? null, limit: CONSOLE_PAGE_SIZE + 1 });
    const directories = directoryRows.slice(0, CONSOLE_PAGE_SIZE);
    const connections = connectionRows.slice(0, CONSOLE_PAGE_SIZE);
    const lastDirectory = directories.at(-1);
    const lastConnection = connections.at(-1);
    const now = c.get("now")();
    const origin = new URL(c.req.url).origin;
    return renderPage(
      c,
      <DirectoriesPage
        session={c.get("console")}
        directories={directories}
        directoriesNextHref={
          directoryRows.length > CONSOLE_PAGE_SIZE && lastDirectory
            ? pageHref("/admin/console/directories", { directories: encodeCursor([lastDirectory.provider, lastDirectory.id]) })
            : null
        }
        // Mapped field by field: the view never receives a token hash.
        connections={connections.map((row) => ({
          id: row.id,
          name: row.name,
          organizationId: row.organizationId,
          provider: row.provider,
          baseUrl: connectionBaseUrl(origin, row.id),
          status: row.disabledAt === null ? ("active" as const) : ("disabled" as const),
          createdAt: row.createdAt,
          lastUsedAt: row.lastUsedAt,
          disabledAt: row.disabledAt,
          previousTokenExpiresAt: row.disabledAt === null ? livePreviousTokenExpiry(row, now) : null,
        }))}
        connectionsNextHref={
          connectionRows.length > CONSOLE_PAGE_SIZE && lastConnection ? pageHref("/admin/console/directories", { connections: encodeCursor([lastConnection.id]) }) : null
        }
      />,
    );
  });

  return app;
}

/** A form's empty field (an unset filter) is the same as an absent one. */
const optional = <T extends z.ZodType>(schema: T) => z.preprocess((value) => (value === "" ? undefined : value), schema.optional());

/**
 * A `datetime-local` value read as UTC (the form says so): `2026-10-01T12:00`, seconds optional.
 * Keeps the text to show it back in the form.
 */
const utcLocalTime = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/)
  .transform((text, context) => {
    const ms = Date.parse(`${text}Z`);
    if (Number.isNaN(ms)) {
      context.addIssue({ code: "custom", message: "not a date and time" });
      return z.NEVER;
    }
    return { text, ms };
  });

const eventLogQuery = z.object({
  status: optional(z.enum(eventStatuses)),
  provider: optional(z.string().max(64)),
  type: optional(z.string().max(256)),
  from: optional(utcLocalTime),
  to: optional(utcLocalTime),
  cursor: optional(cursorOf(z.tuple([z.number().int(), z.string().max(64), z.string().max(300)]))),
});

const positionQuery = z.object({ cursor: optional(cursorOf(z.tuple([z.number().int()]))) });

const directoriesQuery = z.object({
  directories: optional(cursorOf(z.tuple([z.string().max(64), z.string().max(300)]))),
  connections: optional(cursorOf(z.tuple([z.string().max(64)]))),
});

const eventKey = z.object({ provider: z.string().min(1).max(64), eventId: z.string().min(1).max(300) });

const messageId = z.string().min(1).max(128);
const replayForm = z.object({
  id: optional(z.union([messageId.transform((id) => [id]), z.array(messageId)])).transform((ids) => ids ?? []),
  only: optional(messageId),
});

const startRunForm = z.object({ provider: z.string().min(1).max(64) });

/** A list page's link: the filters that are set, and the cursor. */
function pageHref(path: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) query.set(name, value);
  return `${path}?${query.toString()}`;
}

const EVENT_NOTICES = {
  replayed: "Replayed: the stored message is back on the Queue. Reload in a moment to see the event's new status.",
  "replayed-delivery": "Replayed: the stored delivery was parsed again with the adapter deployed now, and what it yielded was queued.",
  not_replayable: "Not replayed: only failed and dead-lettered events (or quarantined and rejected deliveries) can be replayed, and this one is not.",
  undecodable: "Not replayed: the stored message does not decode with the code deployed now.",
  still_invalid: "Not replayed: the stored delivery still does not parse with the adapter deployed now. Its error shows why.",
  queue_unavailable: "Not replayed: the Queue refused the message. Nothing was changed; try again in a minute.",
  provider_not_found: "Not replayed: no webhook provider of this name is deployed to re-parse the delivery.",
} as const;

function replayNotice(result: EventReplayResult): keyof typeof EVENT_NOTICES {
  if (result.ok) return result.from === "message" ? "replayed" : "replayed-delivery";
  return result.reason === "not_found" ? "not_replayable" : result.reason;
}

const RUN_NOTICES = {
  started: "Started: the run's first step is on the Queue. Reload to follow it.",
  "already-running": "A run for this provider was already running: this is it.",
  resumed: "A run for this provider had stalled: it was resumed from its checkpoint.",
  "provider-not-configured": "No run started: that provider's upstream is not configured in this deployment.",
} as const;

/**
 * `replayed-<n>` or `replayed-<n>-failed-<m>` (numbers only, at most one replay's worth): the page
 * never prints text taken from the query string.
 */
function deadLetterNotice(code: string | undefined): Notice | null {
  if (code === "nothing-selected") return { code, message: "Nothing was replayed: no dead letter was selected." };
  const match = /^replayed-(\d{1,3})(?:-failed-(\d{1,3}))?$/.exec(code ?? "");
  if (!match) return null;
  const replayed = Number(match[1]);
  const failed = Number(match[2] ?? 0);
  if (replayed + failed > MAX_DEAD_LETTERS_PER_REPLAY) return null;
  const plural = (n: number) => (n === 1 ? "dead letter" : "dead letters");
  const message =
    `Replayed ${replayed} ${plural(replayed)}: back on the Queue; their status below changes once the consumer has them.` +
    (failed > 0 ? ` ${failed} could not be replayed (gone already, or their body does not decode).` : "");
  return { code: code!, message };
}

/** A stored queue message, pretty-printed (kept verbatim when it is not JSON). */
function prettyMessage(message: string | null): string | null {
  if (message === null) return null;
  try {
    return JSON.stringify(JSON.parse(message), null, 2);
  } catch {
    return message;
  }
}

/** A stored delivery as GET /admin/events/:id shows it: parsed when it reads, verbatim when not. */
function prettyDelivery(delivery: string | null): string | null {
  if (delivery === null) return null;
  try {
    const parsed = storedDelivery.safeParse(JSON.parse(delivery));
    if (parsed.success) return JSON.stringify(parsed.data, null, 2);
  } catch {
    // shown verbatim below
  }
  return delivery;
}
