import type { Membership } from "./read";

/**
 * Application roles from group membership: a group matches a mapping key by its name or its
 * external id. Roles are sorted and deduplicated so the output is stable.
 */
export function rolesFor(memberships: Pick<Membership, "groupExternalId" | "groupName">[], mapping: Record<string, string[]>): string[] {
  const roles = new Set<string>();
  for (const membership of memberships) {
    for (const key of [membership.groupExternalId, membership.groupName]) {
      if (key !== null && Object.hasOwn(mapping, key)) for (const role of mapping[key]!) roles.add(role);
    }
  }
  return [...roles].sort();
}
