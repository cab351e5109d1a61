import type { DirectoryUser } from "../../events";
import { ENTERPRISE_USER_SCHEMA, type ScimUser } from "./scim-schemas";

/** A SCIM User as the neutral directory user. */
export function toDirectoryUser(user: ScimUser): DirectoryUser {
  const emails = user.emails ?? [];
  const email = (emails.find((entry) => entry.primary) ?? emails[0])?.value ?? (user.userName?.includes("@") ? user.userName : null);
  const enterprise = user[ENTERPRISE_USER_SCHEMA];
  const attributes = enterprise
    ? Object.fromEntries(
        Object.entries({
          employeeNumber: enterprise.employeeNumber,
          costCenter: enterprise.costCenter,
          organization: enterprise.organization,
          division: enterprise.division,
          department: enterprise.department,
          manager: enterprise.manager?.value,
        }).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
      )
    : null;
  return {
    externalId: user.id,
    email: email ?? null,
    firstName: user.name?.givenName ?? null,
    lastName: user.name?.familyName ?? null,
    active: user.active ?? true,
    organizationId: null,
    directoryId: null,
    userName: user.userName ?? null,
    scimExternalId: user.externalId ?? null,
    attributes: attributes && Object.keys(attributes).length > 0 ? attributes : null,
  };
}

/** When the upstream last changed the record (ms), if it says. */
export function lastModifiedOf(user: ScimUser): number | null {
  const value = user.meta?.lastModified;
  return value ? Date.parse(value) : null;
}
