import type { RoleMappingEntry } from "../config";
import type { Membership } from "./read";

/**
 * Application roles from group membership (ROLE_MAPPING, see config.ts). A membership grants an
 * entry's roles only when all of these hold:
 * - the entry's provider and organization are the group's (and its directory, when the entry names one);
 * - the user belongs to that same organization, so a group can never grant into another tenant;
 * - the entry names the group's external id, or (opt-in per entry) its exact name.
 * A group or user without an organization matches nothing. Roles come out sorted and deduplicated.
 */
export function rolesFor(user: { organizationId: string | null }, memberships: Membership[], mapping: RoleMappingEntry[]): string[] {
  const roles = new Set<string>();
  if (user.organizationId === null) return [];
  for (const membership of memberships) {
    if (membership.groupOrganizationId !== user.organizationId) continue;
    for (const entry of mapping) {
      if (grants(entry, membership)) for (const role of entry.roles) roles.add(role);
    }
  }
  return [...roles].sort();
}

function grants(entry: RoleMappingEntry, membership: Membership): boolean {
  if (entry.provider !== membership.provider || entry.organizationId !== membership.groupOrganizationId) return false;
  if (entry.directoryId !== null && entry.directoryId !== membership.groupDirectoryId) return false;
  return "id" in entry.group ? entry.group.id === membership.groupExternalId : entry.group.name === membership.groupName;
}
