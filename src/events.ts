import * as z from "zod";

/**
 * The provider-neutral directory event. Every adapter in src/providers maps its webhooks to this,
 * and everything downstream (queue, consumer, D1) knows only this shape.
 *
 * Ordering: `occurredAt` (ms since epoch) and `occurredAtNanos` (the sub-millisecond part), plus
 * `eventId` as a tie-breaker for truly equal times, form the event's version (see
 * directory/version.ts). State only moves forward in that order, so any arrival
 * order converges to the in-order result.
 */

const id = z.string().min(1).max(256);
const optionalText = z.string().max(1024).nullable();

/** Bounds on a user's stored attributes: adapters cut to these (providers/bounded-attributes.ts). */
export const MAX_ATTRIBUTE_KEYS = 100;
export const MAX_ATTRIBUTES_JSON_BYTES = 8 * 1024;

/** SCIM enterprise-extension values, custom attributes and similar flat attributes a provider supplies. */
export const userAttributes = z
  .record(z.string().max(128), z.union([z.string().max(1024), z.number(), z.boolean(), z.null()]))
  .refine((attributes) => Object.keys(attributes).length <= MAX_ATTRIBUTE_KEYS, { message: "too many attributes" })
  .refine((attributes) => new TextEncoder().encode(JSON.stringify(attributes)).length <= MAX_ATTRIBUTES_JSON_BYTES, { message: "attributes too large" });

/** Bound on a SCIM connection user's stored profile (scim/write/profile.ts builds it). */
export const MAX_PROFILE_JSON_BYTES = 16 * 1024;

/**
 * A SCIM connection user's attributes beyond the user's own columns (displayName, title, phone
 * numbers, addresses, every email, …), in SCIM's shape. Keys are SCIM attribute names, so never
 * `__proto__` and friends; what may appear under them is decided where the profile is built.
 */
export const userProfile = z
  .record(z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,63}$/), z.json())
  .refine((profile) => new TextEncoder().encode(JSON.stringify(profile)).length <= MAX_PROFILE_JSON_BYTES, { message: "profile too large" });
export type UserProfile = z.infer<typeof userProfile>;

/** Most groups one user event may list (Scalekit sends the user's full set). */
export const MAX_USER_GROUPS = 5000;

export const directoryUser = z.object({
  externalId: id,
  email: optionalText,
  firstName: optionalText,
  lastName: optionalText,
  active: z.boolean(),
  organizationId: optionalText,
  directoryId: optionalText,
  /** SCIM `userName`, where the provider has one. */
  userName: optionalText.default(null),
  /** SCIM `externalId`: the id in the customer's HR system, where the provider has one. */
  scimExternalId: optionalText.default(null),
  attributes: userAttributes.nullable().default(null),
  /**
   * Roles the identity provider assigns the user, sorted and distinct; null or absent when the
   * provider has none. Shown in /v1 next to the roles ROLE_MAPPING grants.
   */
  providerRoles: z.array(z.string().min(1).max(256)).max(100).nullish(),
  /** Only SCIM connections set it; absent or null for every other provider (stored as null). */
  profile: userProfile.nullish(),
});
export type DirectoryUser = z.infer<typeof directoryUser>;

export const directoryGroup = z.object({
  externalId: id,
  name: optionalText,
  organizationId: optionalText,
  directoryId: optionalText,
  /** A SCIM connection group's `externalId` (the client's own id); absent for every other provider. */
  scimExternalId: optionalText.optional(),
});
export type DirectoryGroup = z.infer<typeof directoryGroup>;

/** A directory (a customer's connection to an IdP) as the provider describes it: a full snapshot. */
export const directoryInfo = z.object({
  id,
  organizationId: optionalText,
  /** How the IdP connects, e.g. `SCIM`. */
  directoryType: optionalText,
  /** The identity provider, e.g. `OKTA`. */
  idpProvider: optionalText,
  /** Whether the customer has sync switched on; null when the event does not say. */
  enabled: z.boolean().nullable(),
  status: optionalText,
});
export type DirectoryInfo = z.infer<typeof directoryInfo>;

const eventBase = {
  provider: z.string().min(1).max(64),
  /** Idempotency key within the provider: the body's event id, else the `webhook-id` header. */
  eventId: id,
  occurredAt: z.number().int().nonnegative(),
  /**
   * Nanoseconds past `occurredAt`'s millisecond (0-999999), for providers whose event times are
   * finer than milliseconds. Absent means 0 (messages queued before this field existed decode).
   */
  occurredAtNanos: z.number().int().min(0).max(999_999).optional(),
  /** The provider's own event type, kept for the event log. */
  sourceType: z.string().max(256),
};

export const directoryEvent = z.discriminatedUnion("kind", [
  z.object({
    ...eventBase,
    kind: z.literal("user_upserted"),
    user: directoryUser,
    /**
     * The user's full set of groups as of this event, where the provider sends it (Scalekit): their
     * memberships become exactly these. Null or absent: unknown, memberships are left alone; `[]`:
     * in no group. A group named here and not yet known is created with this name.
     */
    groups: z
      .array(z.object({ externalId: id, name: optionalText }))
      .max(MAX_USER_GROUPS)
      .nullish(),
  }),
  z.object({
    ...eventBase,
    kind: z.literal("user_deleted"),
    /** The profile as the delete event carries it; null fields keep their last known value. */
    user: directoryUser.omit({ active: true }),
  }),
  /**
   * The provider only says which user changed: the consumer fetches the current record from the
   * provider's SCIM API and applies what it observes there (providers/firstup/resolve-refresh.ts). The
   * event's own word never erases or deactivates anyone.
   */
  z.object({
    ...eventBase,
    kind: z.literal("user_refresh"),
    externalId: id,
    /**
     * What the provider said happened, which the upstream record must confirm: `deactivated`
     * expects an inactive record, `deleted` expects the user gone (a SCIM 404).
     */
    reason: z.enum(["updated", "deactivated", "deleted"]),
    /**
     * The delivery was signed (Standard Webhooks), not just sent with a shared Authorization
     * header. Only a signed `deleted` lets one verified SCIM 404 erase; otherwise two reads apart.
     */
    signed: z.boolean().optional(),
  }),
  /** Erase the user's personal data everywhere, keeping a tombstone (GDPR-style deletion). */
  z.object({ ...eventBase, kind: z.literal("user_forgotten"), externalId: id }),
  z.object({ ...eventBase, kind: z.literal("group_upserted"), group: directoryGroup }),
  z.object({
    ...eventBase,
    kind: z.literal("group_deleted"),
    group: directoryGroup,
  }),
  /** A directory was enabled or disabled (Scalekit `organization.directory_enabled` / `_disabled`). */
  z.object({ ...eventBase, kind: z.literal("directory_changed"), directory: directoryInfo }),
  z.object({
    ...eventBase,
    kind: z.literal("group_members_changed"),
    groupExternalId: id,
    /** Disjoint from `removed`: an adapter resolves a user listed in both (removal wins). */
    added: z.array(id),
    removed: z.array(id),
  }),
]);
export type DirectoryEvent = z.infer<typeof directoryEvent>;
export type DirectoryEventKind = DirectoryEvent["kind"];
