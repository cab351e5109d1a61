/**
 * Scalekit directory webhook bodies, shaped like the sample in Scalekit's provisioning guide
 * (shared/seeds). Builders take overrides so each test states only what it cares about.
 */
export type ScalekitAction =
  | "user_created"
  | "user_updated"
  | "user_deleted"
  | "group_created"
  | "group_updated"
  | "group_deleted"
  | "group_membership_updated";

export const SCALEKIT_ACTIONS: ScalekitAction[] = [
  "user_created",
  "user_updated",
  "user_deleted",
  "group_created",
  "group_updated",
  "group_deleted",
  "group_membership_updated",
];

let sequence = 0;

export function scalekitUser(overrides: Record<string, unknown> = {}) {
  return {
    id: "user_abc123",
    email: "john@company.com",
    given_name: "John",
    family_name: "Doe",
    active: true,
    organization_id: "org_xyz789",
    directory_id: "dir_456",
    ...overrides,
  };
}

export function scalekitGroup(overrides: Record<string, unknown> = {}) {
  return { id: "group_eng", name: "Engineering", organization_id: "org_xyz789", directory_id: "dir_456", ...overrides };
}

export function scalekitEvent(action: ScalekitAction, data: Record<string, unknown>, envelope: Record<string, unknown> = {}) {
  return {
    id: `evt_${Date.now()}_${sequence++}`,
    type: `organization.directory.${action}`,
    timestamp: new Date().toISOString(),
    organization_id: "org_xyz789",
    data,
    ...envelope,
  };
}

/** A representative body for each action. */
export function sampleData(action: ScalekitAction): Record<string, unknown> {
  if (action.startsWith("user_")) return scalekitUser(action === "user_deleted" ? { active: false } : {});
  if (action === "group_membership_updated") return { group_id: "group_eng", added_members: ["user_abc123"], removed_members: [] };
  return scalekitGroup();
}

/** What an adapter is handed for a signed delivery of `body` (as ingress builds it). */
export const signedDelivery = (body: unknown, webhookId = "msg_header_id") => ({
  body,
  rawBody: new TextEncoder().encode(JSON.stringify(body)),
  headers: new Headers(),
  webhookId,
  signedAtMs: 1_700_000_000_000,
  receivedAtMs: 1_700_000_001_000,
});
