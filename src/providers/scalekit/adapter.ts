import * as z from "zod";
import { MAX_USER_GROUPS, type DirectoryEvent, type DirectoryUser } from "../../events";
import { boundAttributes } from "../shared/bounded-attributes";
import { describeIssues } from "../shared/issues";
import type { AdapterResult, ProviderAdapter, ProviderDelivery } from "../types";
import { parseEventTime } from "./event-time";

/**
 * Scalekit directory webhooks (`organization.directory.*`), signed with Standard Webhooks.
 *
 * Shapes per Scalekit's "Directory events" reference (shared/docs/providers.md): the envelope
 * `{ spec_version, id, type, occurred_at, environment_id, organization_id, object, data }`, user
 * events carrying the user's full set of `groups`, `roles`, `custom_attributes` and flat
 * enterprise fields, and a minimal `user_deleted`. The seed's older sample shapes still parse:
 * `timestamp` instead of `occurred_at`, `data.directory_id` on users, `group_membership_updated`.
 * Fields the reference does not list are ignored; a documented field of the wrong type makes the
 * delivery invalid (it is quarantined, never guessed at).
 */

const EVENT_PREFIX = "organization.directory.";
/** Directory lifecycle events sit outside EVENT_PREFIX: `organization.directory_enabled` / `_disabled`. */
const DIRECTORY_EVENTS: Record<string, boolean> = { "organization.directory_enabled": true, "organization.directory_disabled": false };
const id = z.string().min(1).max(256);
const text = z.string().max(1024).nullish();
const looseObject = z.record(z.string(), z.unknown()).nullish();

const envelope = z.object({
  spec_version: z.string().max(16).nullish(),
  id: id.optional(),
  type: z.string().min(1).max(256),
  occurred_at: z.iso.datetime({ offset: true }).optional(),
  timestamp: z.iso.datetime({ offset: true }).optional(),
  environment_id: text,
  organization_id: text,
  object: z.string().max(64).nullish(),
  data: z.record(z.string(), z.unknown()),
});

/** Flat enterprise fields, stored under SCIM's names where SCIM has one (the SCIM server shows them). */
const ENTERPRISE_FIELDS = {
  employee_id: "employeeNumber",
  cost_center: "costCenter",
  organization: "organization",
  division: "division",
  department: "department",
  title: "title",
  user_type: "userType",
  locale: "locale",
  language: "preferredLanguage",
  zoneinfo: "timezone",
  nickname: "nickName",
  picture: "picture",
  phone_number: "phoneNumber",
  name: "name.formatted",
} as const;

const userData = z.object({
  id,
  email: text,
  given_name: text,
  family_name: text,
  active: z.boolean().optional(),
  organization_id: text,
  directory_id: text,
  dp_id: text,
  preferred_username: text,
  // Any length here: boundAttributes caps what is stored, so a long picture URL or title drops
  // that value instead of quarantining the whole event.
  ...Object.fromEntries(Object.keys(ENTERPRISE_FIELDS).map((field) => [field, z.string().nullish()])),
  address: looseObject,
  roles: z
    // An empty or overlong role name is dropped (below), never a reason to lose the event.
    .array(z.object({ role_name: z.string() }))
    .max(100)
    .nullish(),
  groups: z
    .array(z.object({ id, name: text }))
    .max(MAX_USER_GROUPS)
    .nullish(),
  custom_attributes: looseObject,
  // raw_attributes (the IdP's unmapped payload) is deliberately not read or stored: unbounded
  // personal data that erasure would also have to chase. The fields above are what we keep.
}) as z.ZodType<UserData>;

interface UserData {
  id: string;
  email?: string | null;
  given_name?: string | null;
  family_name?: string | null;
  active?: boolean;
  organization_id?: string | null;
  directory_id?: string | null;
  dp_id?: string | null;
  preferred_username?: string | null;
  address?: Record<string, unknown> | null;
  roles?: { role_name: string }[] | null;
  groups?: { id: string; name?: string | null }[] | null;
  custom_attributes?: Record<string, unknown> | null;
  [field: string]: unknown;
}

const groupData = z.object({
  id,
  name: text,
  display_name: text,
  external_id: text,
  organization_id: text,
  directory_id: text,
});

// Members arrive as ids in the guide's sample; directory payloads elsewhere use `{ id }` objects.
const memberRef = z.union([id, z.object({ id }).transform((member) => member.id)]);
const membershipData = z.object({
  group_id: id,
  added_members: z.array(memberRef).nullish(),
  removed_members: z.array(memberRef).nullish(),
});

// Documented `data` of the directory events; `updated_at` and `last_sync_at` are accepted, not stored.
const directoryData = z.object({
  id,
  directory_type: text,
  enabled: z.boolean().nullish(),
  organization_id: text,
  provider: text,
  status: text,
  updated_at: text,
  last_sync_at: text,
});

type Envelope = z.infer<typeof envelope>;
type Common = Pick<DirectoryEvent, "provider" | "eventId" | "occurredAt" | "occurredAtNanos" | "sourceType">;

const handlers: Record<string, (data: unknown, common: Common, env: Envelope) => DirectoryEvent> = {
  user_created: (data, common, env) => userUpserted(userData.parse(data), common, env),
  user_updated: (data, common, env) => userUpserted(userData.parse(data), common, env),
  user_deleted: (data, common, env) => {
    // The documented user_deleted carries only id, organization_id, dp_id and email.
    const { active: _deleted, ...user } = toUser(userData.parse(data), env);
    return { ...common, kind: "user_deleted", user };
  },
  group_created: (data, common, env) => ({ ...common, kind: "group_upserted", group: toGroup(groupData.parse(data), env) }),
  group_updated: (data, common, env) => ({ ...common, kind: "group_upserted", group: toGroup(groupData.parse(data), env) }),
  group_deleted: (data, common, env) => ({ ...common, kind: "group_deleted", group: toGroup(groupData.parse(data), env) }),
  group_membership_updated: (data, common) => {
    const membership = membershipData.parse(data);
    const removed = [...new Set(membership.removed_members ?? [])];
    // A user listed as both added and removed ends removed, whatever order parts arrive in.
    const removedSet = new Set(removed);
    const added = [...new Set(membership.added_members ?? [])].filter((user) => !removedSet.has(user));
    return { ...common, kind: "group_members_changed", groupExternalId: membership.group_id, added, removed };
  },
};

/** `enabled` from the body when it says, else from the event type that carries it. */
const directoryChanged =
  (enabledByType: boolean) =>
  (data: unknown, common: Common, env: Envelope): DirectoryEvent => {
    const directory = directoryData.parse(data);
    return {
      ...common,
      kind: "directory_changed",
      directory: {
        id: directory.id,
        organizationId: directory.organization_id ?? env.organization_id ?? null,
        directoryType: directory.directory_type ?? null,
        idpProvider: directory.provider ?? null,
        enabled: directory.enabled ?? enabledByType,
        status: directory.status ?? null,
      },
    };
  };

function userUpserted(data: UserData, common: Common, env: Envelope): DirectoryEvent {
  // `groups` is the user's full set; null or absent says nothing about memberships.
  const groups = data.groups ? dedupeGroups(data.groups) : null;
  return { ...common, kind: "user_upserted", user: toUser(data, env), ...(groups ? { groups } : {}) };
}

function dedupeGroups(groups: { id: string; name?: string | null }[]) {
  const byId = new Map(groups.map((group) => [group.id, { externalId: group.id, name: group.name ?? null }]));
  return [...byId.values()].sort((a, b) => (a.externalId < b.externalId ? -1 : a.externalId > b.externalId ? 1 : 0));
}

function toUser(data: UserData, env: Envelope): DirectoryUser {
  const roles = [...new Set((data.roles ?? []).map((role) => role.role_name.trim()).filter((name) => name !== "" && name.length <= 256))].sort();
  return {
    externalId: data.id,
    email: data.email ?? null,
    firstName: data.given_name ?? null,
    lastName: data.family_name ?? null,
    active: data.active ?? true,
    organizationId: data.organization_id ?? env.organization_id ?? null,
    directoryId: data.directory_id ?? null,
    userName: data.preferred_username ?? null,
    scimExternalId: data.dp_id ?? null,
    attributes: toAttributes(data),
    providerRoles: roles.length ? roles : null,
  };
}

/** Documented fields first, then the address, then custom attributes, each in key order. */
function toAttributes(data: UserData) {
  const sorted = (object: Record<string, unknown> | null | undefined) => Object.entries(object ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return boundAttributes([
    ...Object.entries(ENTERPRISE_FIELDS).map(([field, key]): [string, unknown] => [key, data[field]]),
    ...sorted(data.address).map(([key, value]): [string, unknown] => [`address.${key}`, value]),
    ...sorted(data.custom_attributes).map(([key, value]): [string, unknown] => [`custom.${key}`, value]),
  ]);
}

function toGroup(data: z.infer<typeof groupData>, env: Envelope) {
  return {
    externalId: data.id,
    name: data.name ?? data.display_name ?? null,
    organizationId: data.organization_id ?? env.organization_id ?? null,
    directoryId: data.directory_id ?? null,
  };
}

export const scalekit: ProviderAdapter = {
  name: "scalekit",
  authentication: { standardWebhooksSecret: "SCALEKIT_WEBHOOK_SECRET" },
  parse(delivery: ProviderDelivery): AdapterResult {
    const parsedEnvelope = envelope.safeParse(delivery.body);
    if (!parsedEnvelope.success) return { outcome: "invalid", issues: describeIssues(parsedEnvelope.error) };
    const env = parsedEnvelope.data;
    const eventId = env.id ?? delivery.webhookId;
    if (!eventId) return { outcome: "invalid", issues: ["id: missing (and no webhook-id header)"] };

    const action = env.type.startsWith(EVENT_PREFIX) ? env.type.slice(EVENT_PREFIX.length) : undefined;
    const handler = Object.hasOwn(DIRECTORY_EVENTS, env.type)
      ? directoryChanged(DIRECTORY_EVENTS[env.type]!)
      : action !== undefined && Object.hasOwn(handlers, action)
        ? handlers[action]
        : undefined;
    if (!handler) return { outcome: "ignored", eventId, sourceType: env.type, reason: "unsupported_event_type" };

    // The provider's event time orders state changes, to the nanosecond it gives; the signed
    // delivery time is the fallback.
    const eventText = env.occurred_at ?? env.timestamp;
    const eventTime = eventText ? parseEventTime(eventText) : { ms: delivery.signedAtMs ?? delivery.receivedAtMs, subMsNanos: 0 };
    if (!eventTime) return { outcome: "invalid", issues: [`${env.occurred_at ? "occurred_at" : "timestamp"}: invalid_format`] };
    const common: Common = { provider: "scalekit", eventId, occurredAt: eventTime.ms, sourceType: env.type };
    if (eventTime.subMsNanos) common.occurredAtNanos = eventTime.subMsNanos;
    try {
      return { outcome: "event", event: handler(env.data, common, env) };
    } catch (error) {
      if (error instanceof z.ZodError) return { outcome: "invalid", issues: describeIssues(error, "data") };
      throw error;
    }
  },
};

/**
 * A Directory API user as the neutral user: the listing's top-level fields over its `user_detail`
 * (which holds the same fields a webhook's user carries: `active`, `dp_id`, roles, enterprise and
 * custom attributes), read with the webhook schema so both paths store the same record. Null when
 * the record does not fit that schema (the caller counts it and writes nothing for it).
 * `activeKnown` is false when the record does not say whether the user is active (no
 * `user_detail`, or no boolean `active` in it): the caller must not activate anyone on that.
 */
export function userFromDirectoryApi(
  record: { id: string; user_detail?: Record<string, unknown> | null } & Record<string, unknown>,
  where: { organizationId: string; directoryId: string },
): { user: DirectoryUser; activeKnown: boolean } | null {
  const { user_detail: detail, groups: _groups, emails: _emails, updated_at: _updatedAt, ...listed } = record;
  const defined = Object.fromEntries(Object.entries(listed).filter(([, value]) => value !== undefined && value !== null));
  const { groups: _detailGroups, ...profile } = detail ?? {};
  const parsed = userData.safeParse({ ...profile, ...defined, organization_id: where.organizationId, directory_id: where.directoryId });
  if (!parsed.success) return null;
  return { user: toUser(parsed.data, { organization_id: where.organizationId } as Envelope), activeKnown: typeof parsed.data.active === "boolean" };
}
