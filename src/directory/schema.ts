import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * The synced directory. Column names follow the seed schema (users, groups, group_members) with
 * what ordering and exactly-once need added. Times are integer milliseconds since the epoch.
 *
 * Ordering columns:
 * - `last_event_at`: when the provider says the last applied event happened;
 * - `last_event_version`: that event's sortable version (directory/version.ts), compared in SQL so
 *   an older event never overwrites newer state.
 *
 * Membership ordering lives in tables of its own (membership_versions, membership_resets), so
 * `group_members` is what an application expects: one row per current membership.
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
    /**
     * Flat provider attributes (SCIM enterprise extension; Scalekit's custom attributes and
     * enterprise fields), JSON, bounded in size by the event schema (events.ts).
     */
    attributes: text("attributes", { mode: "json" }),
    /** Roles the identity provider assigns the user (Scalekit `roles[].role_name`), a sorted JSON array. */
    providerRoles: text("provider_roles", { mode: "json" }),
    /**
     * A SCIM connection user's attributes beyond the columns above (displayName, title, phone
     * numbers, addresses, every email, …; scim/write/profile.ts), JSON, at most 16 KB. Null for
     * every other provider. Personal data: erasure clears it.
     */
    profile: text("profile", { mode: "json" }),
    /** SHA-256 of the normalized profile: reconciliation writes a row only when this changes. */
    fingerprint: text("fingerprint"),
    /** Set when the user's personal data was erased; the row stays as a tombstone. */
    forgottenAt: integer("forgotten_at"),
    /**
     * Case-folded `user_name` and `email` (directory/fold.ts), written with them: case-insensitive
     * lookups (SCIM `userName eq`, `/v1?email=`) compare these, so they are Unicode-correct and
     * indexed. SQLite's lower() folds ASCII only.
     */
    userNameKey: text("user_name_key"),
    emailKey: text("email_key"),
    firstNameKey: text("first_name_key"),
    lastNameKey: text("last_name_key"),
  },
  (table) => [
    primaryKey({ columns: [table.provider, table.externalId] }),
    // Every index entry is a D1 row written (billed) when a row is inserted or a keyed column is
    // assigned (migration 0010, BENCHMARKS.md): lookups are by non-null keys only, so users without
    // a userName or email cost no entry, and one index serves both an organization's users and
    // (Scalekit reconciliation's absence checks) a directory's.
    index("users_email_key_idx").on(table.emailKey).where(sql`email_key IS NOT NULL`),
    index("users_user_name_key_idx").on(table.provider, table.userNameKey).where(sql`user_name_key IS NOT NULL`),
    index("users_organization_idx").on(table.organizationId, table.provider, table.directoryId),
  ],
);

export const groups = sqliteTable(
  "groups",
  {
    provider: text("provider").notNull(),
    externalId: text("external_id").notNull(),
    name: text("name"),
    /** Case-folded name (directory/fold.ts), for SCIM `displayName eq` lookups. */
    nameKey: text("name_key"),
    ...syncedRecordColumns(),
    /** A SCIM connection group's `externalId`, the client's own id for it (Entra matches groups by it). */
    scimExternalId: text("scim_external_id"),
  },
  (table) => [
    primaryKey({ columns: [table.provider, table.externalId] }),
    index("groups_organization_idx").on(table.organizationId),
    index("groups_name_key_idx").on(table.provider, table.nameKey),
    // `externalId eq` under a connection (Entra's group lookup) reads one row, not the connection's every group.
    index("groups_scim_external_id_idx").on(table.provider, table.scimExternalId),
  ],
);

/**
 * Current memberships only, as in the seed schema: a row exists while the user is a member of the
 * group. Applications query this table directly. Written only as the projection of
 * membership_versions (directory/writes.ts), in the same batch.
 */
export const groupMembers = sqliteTable(
  "group_members",
  {
    provider: text("provider").notNull(),
    groupExternalId: text("group_external_id").notNull(),
    userExternalId: text("user_external_id").notNull(),
    /** When the provider says the add that made this membership happened. */
    addedAt: integer("added_at"),
  },
  (table) => [
    primaryKey({ columns: [table.provider, table.groupExternalId, table.userExternalId] }),
    index("group_members_user_idx").on(table.provider, table.userExternalId),
  ],
);

/**
 * Ordering bookkeeping: the latest membership event applied to each (group, user) pair ever seen.
 * A removed pair keeps its row (`removed_at` set) with the version that removed it, which is what
 * makes a late "added" event from before the removal harmless.
 */
export const membershipVersions = sqliteTable(
  "membership_versions",
  {
    provider: text("provider").notNull(),
    groupExternalId: text("group_external_id").notNull(),
    userExternalId: text("user_external_id").notNull(),
    addedAt: integer("added_at"),
    /** Null: a current member (then group_members has the row). */
    removedAt: integer("removed_at"),
    lastEventVersion: text("last_event_version").notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.provider, table.groupExternalId, table.userExternalId] }),
    index("membership_versions_user_idx").on(table.provider, table.userExternalId),
  ],
);

/**
 * Ordering bookkeeping: the version as of which a user's or a group's memberships were last set
 * wholesale, so a late, older "member added" cannot re-add a member that the newer event removed:
 * a delete or erasure (the set became empty), or a user event listing the user's full set of
 * groups (Scalekit's `groups`; its own groups are re-added at exactly this version).
 */
export const membershipResets = sqliteTable(
  "membership_resets",
  {
    provider: text("provider").notNull(),
    subject: text("subject", { enum: ["user", "group"] }).notNull(),
    externalId: text("external_id").notNull(),
    version: text("version").notNull(),
  },
  (table) => [primaryKey({ columns: [table.provider, table.subject, table.externalId] })],
);

/**
 * Claims on units of internal work done exactly once (a reconciliation step: `reconcile`,
 * `<run>:<step>`), inserted in the same D1 batch as the work, so a second worker doing the same
 * step fails and rolls back whole. Also the scratch key of the in-batch guards of SCIM writes
 * (scim/write/store.ts), which never commit. Events are not recorded here: event_log is their
 * exactly-once authority (migration 0010 merged processed_events into it). WITHOUT ROWID.
 */
export const workClaims = sqliteTable(
  "work_claims",
  {
    scope: text("scope").notNull(),
    key: text("key").notNull(),
    claimedAt: integer("claimed_at").notNull(),
  },
  (table) => [primaryKey({ columns: [table.scope, table.key] })],
);

/**
 * - applied / ignored: done (ignored carries a reason);
 * - failed: the last attempt failed and the queue retries it, or it ran out of its budget (replayable);
 * - dead_lettered: the queue gave up (replayable);
 * - held: authentic, but destructive on evidence too weak to act on alone; an operator releases it;
 * - quarantined: authentic (signature verified), but the body did not parse; stored verbatim,
 *   replayable once the adapter is fixed;
 * - rejected: not JSON at all; answered 400 and recorded (authenticated, so it is not noise).
 */
export const eventStatuses = ["applied", "ignored", "failed", "dead_lettered", "held", "quarantined", "rejected"] as const;
export type EventStatus = (typeof eventStatuses)[number];

/**
 * What happened to every accepted event, for operators; and the exactly-once authority: an event
 * is applied once its row says `applied`, written in the same D1 batch as its effects
 * (consumer/event-log.ts). WITHOUT ROWID, keyed by (provider, event_id), so an applied event costs
 * one row written: both indexes are partial and hold only what operators must find fast (events
 * that need attention, by time; stored messages, by subject, for erasure), never applied ones.
 */
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
    /**
     * Quarantined and rejected deliveries: the authenticated delivery as received (JSON: body text,
     * webhook id, signed time, the headers adapters read), capped in size, so it can be re-parsed.
     */
    delivery: text("delivery"),
    /** When the upstream first answered a verified SCIM 404 for this event's user (erasure needs two). */
    absentSince: integer("absent_since"),
  },
  (table) => [
    primaryKey({ columns: [table.provider, table.eventId] }),
    index("event_log_attention_idx").on(table.status, table.receivedAt).where(sql`status NOT IN ('applied', 'ignored')`),
    index("event_log_stored_subject_idx").on(table.provider, table.subject).where(sql`message IS NOT NULL OR delivery IS NOT NULL`),
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

/**
 * Events per hour by the status they entered (migration 0012), for the console's chart: event_log
 * has no time index for applied rows. Added to once per consumer batch per status, in the batch
 * that records the outcomes (consumer/pipeline-hourly.ts). `hour`: epoch ms floored to the hour.
 * WITHOUT ROWID; pruned past RETENTION_DAYS.
 */
export const pipelineHourly = sqliteTable(
  "pipeline_hourly",
  {
    hour: integer("hour").notNull(),
    status: text("status", { enum: eventStatuses }).notNull(),
    events: integer("events").notNull().default(0),
  },
  (table) => [primaryKey({ columns: [table.hour, table.status] })],
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
    /** What the run covers within the provider: a directory id, or "" for the whole upstream. */
    scope: text("scope").notNull().default(""),
    startedAt: integer("started_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    finishedAt: integer("finished_at"),
    /** Checkpoint: the SCIM startIndex of the next page to read. */
    nextStartIndex: integer("next_start_index").notNull().default(1),
    /** Checkpoint of the sweep: local users are confirmed in external_id order after this one. */
    sweepAfter: text("sweep_after").notNull().default(""),
    upstreamTotal: integer("upstream_total"),
    /**
     * A source's own checkpoint (JSON), for upstreams that page by token (Scalekit): null for SCIM
     * startIndex runs. `step` counts committed steps, so a queue message names the checkpoint it
     * continues without carrying the page token.
     */
    checkpoint: text("checkpoint"),
    step: integer("step").notNull().default(0),
    pages: integer("pages").notNull().default(0),
    scanned: integer("scanned").notNull().default(0),
    created: integer("created").notNull().default(0),
    updated: integer("updated").notNull().default(0),
    deactivated: integer("deactivated").notNull().default(0),
    forgotten: integer("forgotten").notNull().default(0),
    unchanged: integer("unchanged").notNull().default(0),
    errors: integer("errors").notNull().default(0),
    /** Groups created, renamed or removed, and memberships added or removed, by the run. */
    groupsChanged: integer("groups_changed").notNull().default(0),
    membershipsChanged: integer("memberships_changed").notNull().default(0),
    lastError: text("last_error"),
    /** Why a run stopped short, e.g. the mass-deactivation guard, in words for operators. */
    note: text("note"),
  },
  (table) => [
    index("reconcile_runs_provider_idx").on(table.provider, table.startedAt),
    // One running run per provider and scope (a directory, or "" for the whole upstream), enforced
    // by the database so two triggers racing cannot both start one.
    uniqueIndex("reconcile_runs_one_running_idx").on(table.provider, table.scope).where(sql`status = 'running'`),
  ],
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

/**
 * The webhook path's guard on destructive outcomes (erasures, deactivations): how many were applied
 * per provider and organization in each window, so one customer's offboarding (or misfiring IdP)
 * spends only its own budget. Checked and incremented in the consumer's atomic batch.
 */
export const destructiveWindows = sqliteTable(
  "destructive_windows",
  {
    provider: text("provider").notNull(),
    /** The users' organization, "" when they have none. */
    organizationId: text("organization_id").notNull().default(""),
    windowStart: integer("window_start").notNull(),
    applied: integer("applied").notNull().default(0),
  },
  (table) => [primaryKey({ columns: [table.provider, table.organizationId, table.windowStart] })],
);

/**
 * Directories (one per customer connection to an IdP), from Scalekit's
 * `organization.directory_enabled` / `_disabled` events (and, later, its Directory API). A row is a
 * snapshot as of `last_event_version`, replaced only by a newer one, so enable/disable events
 * converge in any arrival order. Keyed by (provider, id): ids are only unique within a provider.
 */
export const directories = sqliteTable(
  "directories",
  {
    provider: text("provider").notNull(),
    id: text("id").notNull(),
    organizationId: text("organization_id"),
    /** How the IdP connects, e.g. `SCIM`. */
    directoryType: text("directory_type"),
    /** The identity provider behind the directory, e.g. `OKTA`. */
    idpProvider: text("idp_provider"),
    /** Null: known, but no event has said whether sync is on. */
    enabled: integer("enabled", { mode: "boolean" }),
    /** The provider's own status word, verbatim. */
    status: text("status"),
    lastEventAt: integer("last_event_at").notNull(),
    lastEventVersion: text("last_event_version").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (table) => [primaryKey({ columns: [table.provider, table.id] }), index("directories_organization_idx").on(table.organizationId)],
);

/**
 * The change feed: one row per effective change to the directory, recorded by SQLite triggers on
 * users, groups and group_members (migrations/0007_change_feed.sql), so every path that
 * writes (webhooks, SCIM refreshes, reconciliation, replays) records changes the same way, in the
 * same D1 batch as the change itself, and a write that changes nothing records nothing.
 *
 * `seq` is assigned inside the writing transaction and D1 serializes transactions, so a reader
 * never sees seq N+1 before seq N is committed: following `seq` cannot skip a change.
 */
export const changes = sqliteTable(
  "changes",
  {
    // Not AUTOINCREMENT (it writes sqlite_sequence on every insert: a billed row per change); the
    // prune always keeps the newest change, so max(seq) + 1 never reuses a number (changes/retention.ts).
    seq: integer("seq").primaryKey(),
    /** user.created, user.updated, …, group.member_added (README, "Reacting to changes"). */
    type: text("type").notNull(),
    provider: text("provider").notNull(),
    organizationId: text("organization_id"),
    directoryId: text("directory_id"),
    /** The user's or group's external id (a membership change's subject is its user). */
    subject: text("subject").notNull(),
    /** The event id that caused it (`reconcile:<run id>` for a reconciliation run). */
    cause: text("cause").notNull(),
    /** `webhook`, `reconcile` or `scim` (a write through a SCIM connection). */
    source: text("source").notNull(),
    /** The change's payload (JSON); an erasure reduces every earlier change of the user to ids. */
    data: text("data").notNull(),
    /** When the change happened, as the provider's event (or the run's observation) says. */
    occurredAt: integer("occurred_at").notNull(),
    recordedAt: integer("recorded_at").notNull(),
  },
  // No index by subject: erasure records itself in change_erasures and readers redact through it
  // (changes/erasure.ts), so a change costs one row written, not two.
);

/**
 * Erased subjects of the change feed (migration 0011): a user's changes of type `user.*` up to
 * `through_seq`, or that happened at or before `through_occurred_at`, are shown with ids only. Readers
 * redact through this table at once; the retention sweep rewrites the rows themselves, then drops
 * the erasure. WITHOUT ROWID.
 */
export const changeErasures = sqliteTable(
  "change_erasures",
  {
    provider: text("provider").notNull(),
    subject: text("subject").notNull(),
    throughSeq: integer("through_seq").notNull().default(0),
    throughOccurredAt: integer("through_occurred_at"),
    recordedAt: integer("recorded_at").notNull(),
  },
  (table) => [primaryKey({ columns: [table.provider, table.subject] })],
);

/**
 * Outbound delivery of each change to the application's webhook (APP_WEBHOOK_URL): one row per
 * change once relayed, its status and attempts. Per subject, a change is delivered only when no
 * older change of the same subject is still pending.
 */
export const changeDeliveries = sqliteTable(
  "change_deliveries",
  {
    seq: integer("seq").primaryKey(),
    /** provider + "\t" + subject: the ordering key. */
    subjectKey: text("subject_key").notNull(),
    status: text("status", { enum: ["pending", "delivered", "rejected", "failed"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    updatedAt: integer("updated_at").notNull(),
    deliveredAt: integer("delivered_at"),
    /** When the next try is due (backoff or Retry-After): the watchdog re-sends only after it. */
    nextAttemptAt: integer("next_attempt_at"),
    /** A sender holds the delivery until then: a second copy of its message does not POST meanwhile. */
    leaseUntil: integer("lease_until"),
  },
  (table) => [index("change_deliveries_pending_idx").on(table.subjectKey, table.seq).where(sql`status = 'pending'`)],
);

/** Small named counters of the feed: `relayed_through`, `pruned_through`, the endpoint's state. */
export const feedState = sqliteTable("feed_state", {
  key: text("key").primaryKey(),
  value: integer("value"),
  note: text("note"),
});

/**
 * SCIM connections (src/scim/connections.ts): one per identity provider that provisions straight
 * into this service over SCIM 2.0, at `/scim/v2/connections/<id>`. The connection owns one
 * provider namespace (`provider`, `scim-<id>`), so its users and groups are isolated by the
 * existing (provider, external_id) keys. Tokens are stored only as SHA-256 hex; during a rotation
 * the previous token stays valid until `previous_token_expires_at`.
 */
export const scimConnections = sqliteTable(
  "scim_connections",
  {
    /** `scn_<24 hex>`, the path segment of the connection's base URL. */
    id: text("id").primaryKey(),
    organizationId: text("organization_id").notNull(),
    name: text("name"),
    /** The provider namespace its users and groups live under. */
    provider: text("provider").notNull(),
    tokenHash: text("token_hash").notNull(),
    previousTokenHash: text("previous_token_hash"),
    previousTokenExpiresAt: integer("previous_token_expires_at"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    /** Set once: a disabled connection refuses every token. */
    disabledAt: integer("disabled_at"),
    /** Last successful authentication, recorded at most once a minute. */
    lastUsedAt: integer("last_used_at"),
  },
  (table) => [uniqueIndex("scim_connections_provider_idx").on(table.provider), index("scim_connections_organization_idx").on(table.organizationId, table.id)],
);

export const importStatuses = ["queued", "applying", "done", "failed"] as const;
export type ImportStatus = (typeof importStatuses)[number];

/**
 * Bulk imports (POST /admin/import, src/import): one row per import, its totals and its report.
 * Written only by src/import/record.ts. The rows' outcomes live in event_log under
 * (provider, `<id>:<row>`); the counters here are refreshed from that key range and kept, so the
 * report outlives event_log's retention. An import namespace (`provider`) belongs to the
 * organization of its first import. `errors` (the first per-line errors, JSON) is dropped
 * RETENTION_DAYS after the import finished (src/retention/import-errors.ts).
 */
export const imports = sqliteTable(
  "imports",
  {
    /** `imp_<24 hex>`. */
    id: text("id").primaryKey(),
    provider: text("provider").notNull(),
    organizationId: text("organization_id").notNull(),
    directoryId: text("directory_id"),
    format: text("format", { enum: ["ndjson", "csv"] }).notNull(),
    status: text("status", { enum: importStatuses }).notNull(),
    /** The client's Idempotency-Key, while it may still return this import (cleared if queuing failed). */
    idempotencyKey: text("idempotency_key"),
    /** SHA-256 of the request (format, namespace, body): a reused key must come with the same request. */
    requestHash: text("request_hash").notNull(),
    rowsTotal: integer("rows_total").notNull(),
    rowsValid: integer("rows_valid").notNull(),
    rowsInvalid: integer("rows_invalid").notNull(),
    chunksTotal: integer("chunks_total").notNull(),
    chunksQueued: integer("chunks_queued").notNull(),
    applied: integer("applied").notNull().default(0),
    ignored: integer("ignored").notNull().default(0),
    held: integer("held").notNull().default(0),
    failed: integer("failed").notNull().default(0),
    deadLettered: integer("dead_lettered").notNull().default(0),
    /** The first per-line errors: JSON `[{ row, line, code, field }]`. */
    errors: text("errors"),
    errorsPrunedAt: integer("errors_pruned_at"),
    /** Why an import failed, as a stable code (`queue_unavailable`). */
    note: text("note"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (table) => [
    uniqueIndex("imports_idempotency_key_idx").on(table.idempotencyKey).where(sql`idempotency_key IS NOT NULL`),
    index("imports_provider_idx").on(table.provider, table.organizationId),
    index("imports_created_idx").on(table.createdAt, table.id),
    index("imports_errors_idx").on(table.finishedAt).where(sql`errors IS NOT NULL`),
  ],
);
