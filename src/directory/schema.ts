import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The synced directory. Column names follow the seed schema (users, groups, group_members) with
 * what ordering and exactly-once need added. Times are integer milliseconds since the epoch.
 *
 * Ordering columns:
 * - `last_event_at`: when the provider says the last applied event happened;
 * - `last_event_version`: that event's sortable version (directory/version.ts), compared in SQL so
 *   an older event never overwrites newer state;
 * - `memberships_reset_version`: the version of the latest delete, so a late, older
 *   "member added" cannot re-add a member that a newer delete removed.
 *
 * Rows are keyed by (provider, external_id): ids are only unique within one provider.
 */

/** Columns users and groups share: where the record came from, and its ordering state. */
const syncedRecordColumns = () => ({
  organizationId: text("organization_id"),
  directoryId: text("directory_id"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
  deletedAt: integer("deleted_at"),
  lastEventAt: integer("last_event_at").notNull(),
  lastEventVersion: text("last_event_version").notNull(),
  membershipsResetVersion: text("memberships_reset_version"),
});

export const users = sqliteTable(
  "users",
  {
    provider: text("provider").notNull(),
    externalId: text("external_id").notNull(),
    email: text("email"),
    firstName: text("first_name"),
    lastName: text("last_name"),
    active: integer("active", { mode: "boolean" }).notNull().default(true),
    ...syncedRecordColumns(),
    userName: text("user_name"),
    scimExternalId: text("scim_external_id"),
    /** Flat provider attributes (SCIM enterprise extension), JSON. */
    attributes: text("attributes", { mode: "json" }),
    /** SHA-256 of the normalized profile: reconciliation writes a row only when this changes. */
    fingerprint: text("fingerprint"),
    /** Set when the user's personal data was erased; the row stays as a tombstone. */
    forgottenAt: integer("forgotten_at"),
  },
  (table) => [
    primaryKey({ columns: [table.provider, table.externalId] }),
    index("users_email_idx").on(table.email),
    index("users_organization_idx").on(table.organizationId),
  ],
);

export const groups = sqliteTable(
  "groups",
  {
    provider: text("provider").notNull(),
    externalId: text("external_id").notNull(),
    name: text("name"),
    ...syncedRecordColumns(),
  },
  (table) => [
    primaryKey({ columns: [table.provider, table.externalId] }),
    index("groups_organization_idx").on(table.organizationId),
  ],
);

/**
 * One row per (group, user) pair ever seen. A member is a row with `removed_at IS NULL`; removed
 * rows stay as tombstones carrying the version that removed them, which is what makes a late
 * "added" event from before the removal harmless.
 */
export const groupMembers = sqliteTable(
  "group_members",
  {
    provider: text("provider").notNull(),
    groupExternalId: text("group_external_id").notNull(),
    userExternalId: text("user_external_id").notNull(),
    addedAt: integer("added_at"),
    removedAt: integer("removed_at"),
    lastEventVersion: text("last_event_version").notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.provider, table.groupExternalId, table.userExternalId] }),
    index("group_members_user_idx").on(table.provider, table.userExternalId),
  ],
);

/** The exactly-once authority: written in the same D1 batch as the event's effects. */
export const processedEvents = sqliteTable(
  "processed_events",
  {
    provider: text("provider").notNull(),
    eventId: text("event_id").notNull(),
    processedAt: integer("processed_at").notNull(),
  },
  (table) => [primaryKey({ columns: [table.provider, table.eventId] })],
);

export const eventStatuses = ["applied", "ignored", "failed", "dead_lettered"] as const;
export type EventStatus = (typeof eventStatuses)[number];

/** What happened to every accepted event, for operators. */
export const eventLog = sqliteTable(
  "event_log",
  {
    provider: text("provider").notNull(),
    eventId: text("event_id").notNull(),
    sourceType: text("source_type").notNull(),
    status: text("status", { enum: eventStatuses }).notNull(),
    /** Why an event was ignored, as a stable code. */
    reason: text("reason"),
    /** The last processing error, without secrets. */
    error: text("error"),
    /** Main-queue deliveries tried so far (the queue's `attempts` at the last outcome). */
    attempts: integer("attempts").notNull().default(0),
    occurredAt: integer("occurred_at"),
    receivedAt: integer("received_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    /** The queue message as enqueued (JSON), so a failed event can be replayed. */
    message: text("message"),
    /** The user or group the event is about, so forgetting a user can purge its messages. */
    subject: text("subject"),
  },
  (table) => [
    primaryKey({ columns: [table.provider, table.eventId] }),
    index("event_log_status_idx").on(table.status, table.receivedAt),
    index("event_log_received_idx").on(table.receivedAt),
    index("event_log_subject_idx").on(table.provider, table.subject),
  ],
);

/** Messages the queue gave up on after `max_retries`, recorded by the dead-letter consumer. */
export const deadLetters = sqliteTable(
  "dead_letters",
  {
    messageId: text("message_id").primaryKey(),
    provider: text("provider"),
    eventId: text("event_id"),
    subject: text("subject"),
    /** The message body as received (JSON). Kept verbatim even when it does not decode. */
    body: text("body").notNull(),
    recordedAt: integer("recorded_at").notNull(),
  },
  (table) => [index("dead_letters_event_idx").on(table.provider, table.eventId)],
);

export const reconcileStatuses = ["running", "completed", "guard_tripped", "failed"] as const;
export type ReconcileStatus = (typeof reconcileStatuses)[number];

/**
 * One reconciliation run against a provider's SCIM upstream: its checkpoint (so a crashed run
 * resumes where it stopped) and its report.
 */
export const reconcileRuns = sqliteTable(
  "reconcile_runs",
  {
    id: text("id").primaryKey(),
    provider: text("provider").notNull(),
    status: text("status", { enum: reconcileStatuses }).notNull(),
    /** scan (listing pages) → sweep (confirming local users the listing did not show) → finish. */
    phase: text("phase", { enum: ["scan", "sweep", "finish", "done"] }).notNull(),
    trigger: text("trigger").notNull(),
    startedAt: integer("started_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    finishedAt: integer("finished_at"),
    /** Checkpoint: the SCIM startIndex of the next page to read. */
    nextStartIndex: integer("next_start_index").notNull().default(1),
    /** Checkpoint of the sweep: local users are confirmed in external_id order after this one. */
    sweepAfter: text("sweep_after").notNull().default(""),
    upstreamTotal: integer("upstream_total"),
    pages: integer("pages").notNull().default(0),
    scanned: integer("scanned").notNull().default(0),
    created: integer("created").notNull().default(0),
    updated: integer("updated").notNull().default(0),
    deactivated: integer("deactivated").notNull().default(0),
    forgotten: integer("forgotten").notNull().default(0),
    unchanged: integer("unchanged").notNull().default(0),
    errors: integer("errors").notNull().default(0),
    lastError: text("last_error"),
    /** Why a run stopped short, e.g. the mass-deactivation guard, in words for operators. */
    note: text("note"),
  },
  (table) => [index("reconcile_runs_provider_idx").on(table.provider, table.startedAt)],
);

/** Scratch: which upstream users a run has seen. Deleted when the run finishes. */
export const reconcileSeen = sqliteTable(
  "reconcile_seen",
  {
    runId: text("run_id").notNull(),
    externalId: text("external_id").notNull(),
  },
  (table) => [primaryKey({ columns: [table.runId, table.externalId] })],
);

/**
 * Scratch: removals a run wants to make (deactivations seen in the listing, users confirmed gone
 * with GET → 404). Held back until the end so the mass-deactivation guard can refuse them all.
 */
export const reconcilePending = sqliteTable(
  "reconcile_pending",
  {
    runId: text("run_id").notNull(),
    externalId: text("external_id").notNull(),
    action: text("action", { enum: ["deactivate", "forget"] }).notNull(),
    /** For deactivations: the normalized record to apply (JSON). */
    record: text("record"),
  },
  (table) => [primaryKey({ columns: [table.runId, table.externalId] })],
);
