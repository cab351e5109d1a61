import * as z from "zod";
import type { DirectoryEvent } from "../events";
import { describeIssues } from "./issues";
import type { AdapterResult, ProviderAdapter, ProviderDelivery } from "./types";

/**
 * Scalekit directory webhooks (`organization.directory.*`), signed with Standard Webhooks.
 * Envelope per Scalekit's provisioning guide: `{ id, type, occurred_at | timestamp, organization_id?, data }`.
 */

const EVENT_PREFIX = "organization.directory.";
const id = z.string().min(1).max(256);
const text = z.string().max(1024).nullish();

const envelope = z.object({
  id: id.optional(),
  type: z.string().min(1).max(256),
  occurred_at: z.iso.datetime({ offset: true }).optional(),
  timestamp: z.iso.datetime({ offset: true }).optional(),
  organization_id: text,
  data: z.record(z.string(), z.unknown()),
});

const userData = z.object({
  id,
  email: text,
  given_name: text,
  family_name: text,
  active: z.boolean().optional(),
  organization_id: text,
  directory_id: text,
});

const groupData = z.object({
  id,
  name: text,
  display_name: text,
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

type Envelope = z.infer<typeof envelope>;
type Common = Pick<DirectoryEvent, "provider" | "eventId" | "occurredAt" | "sourceType">;

const handlers: Record<string, (data: unknown, common: Common, env: Envelope) => DirectoryEvent> = {
  user_created: (data, common, env) => ({ ...common, kind: "user_upserted", user: toUser(userData.parse(data), env) }),
  user_updated: (data, common, env) => ({ ...common, kind: "user_upserted", user: toUser(userData.parse(data), env) }),
  user_deleted: (data, common, env) => {
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

function toUser(data: z.infer<typeof userData>, env: Envelope) {
  return {
    externalId: data.id,
    email: data.email ?? null,
    firstName: data.given_name ?? null,
    lastName: data.family_name ?? null,
    active: data.active ?? true,
    organizationId: data.organization_id ?? env.organization_id ?? null,
    directoryId: data.directory_id ?? null,
    // Scalekit's directory events carry no SCIM userName, HR id or extension attributes.
    userName: null,
    scimExternalId: null,
    attributes: null,
  };
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
    const handler = action !== undefined && Object.hasOwn(handlers, action) ? handlers[action] : undefined;
    if (!handler) return { outcome: "ignored", eventId, sourceType: env.type, reason: "unsupported_event_type" };

    // The provider's event time orders state changes; the signed delivery time is the fallback.
    const eventTime = env.occurred_at ?? env.timestamp;
    const occurredAt = eventTime ? Date.parse(eventTime) : (delivery.signedAtMs ?? delivery.receivedAtMs);
    const common: Common = { provider: "scalekit", eventId, occurredAt, sourceType: env.type };
    try {
      return { outcome: "event", event: handler(env.data, common, env) };
    } catch (error) {
      if (error instanceof z.ZodError) return { outcome: "invalid", issues: describeIssues(error, "data") };
      throw error;
    }
  },
};
