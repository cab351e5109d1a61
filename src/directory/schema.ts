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
  },
  (table) => [
    primaryKey({ columns: [table.provider, table.eventId] }),
    index("event_log_status_idx").on(table.status, table.receivedAt),
    index("event_log_received_idx").on(table.receivedAt),
  ],
);

/** Messages the queue gave up on after `max_retries`, recorded by the dead-letter consumer. */
export const deadLetters = sqliteTable(
  "dead_letters",
  {
    messageId: text("message_id").primaryKey(),
    provider: text("provider"),
    eventId: text("event_id"),
    /** The message body as received (JSON). Kept verbatim even when it does not decode. */
    body: text("body").notNull(),
    recordedAt: integer("recorded_at").notNull(),
  },
  (table) => [index("dead_letters_event_idx").on(table.provider, table.eventId)],
);
