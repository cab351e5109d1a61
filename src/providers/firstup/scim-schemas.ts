import * as z from "zod";

/**
 * SCIM 2.0 (RFC 7643/7644) shapes as this service reads them. Objects are loose: servers add
 * attributes and extensions freely, and only what is named here is relied on.
 */

export const ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

const text = z.string().max(1024);

export const scimUser = z.looseObject({
  id: z.string().min(1).max(256),
  userName: text.nullish(),
  externalId: text.nullish(),
  active: z.boolean().nullish(),
  name: z.looseObject({ givenName: text.nullish(), familyName: text.nullish() }).nullish(),
  emails: z.array(z.looseObject({ value: text, primary: z.boolean().nullish(), type: text.nullish() })).nullish(),
  meta: z.looseObject({ lastModified: z.iso.datetime({ offset: true }).nullish() }).nullish(),
  [ENTERPRISE_USER_SCHEMA]: z
    .looseObject({
      employeeNumber: text.nullish(),
      costCenter: text.nullish(),
      organization: text.nullish(),
      division: text.nullish(),
      department: text.nullish(),
      manager: z.looseObject({ value: text.nullish() }).nullish(),
    })
    .nullish(),
});
export type ScimUser = z.infer<typeof scimUser>;

export const scimGroup = z.looseObject({
  id: z.string().min(1).max(256),
  displayName: text.nullish(),
  members: z.array(z.looseObject({ value: z.string().min(1).max(256), type: text.nullish() })).nullish(),
  meta: z.looseObject({ lastModified: z.iso.datetime({ offset: true }).nullish() }).nullish(),
});
export type ScimGroup = z.infer<typeof scimGroup>;

/** Resources are validated one by one, so one malformed record does not sink its page. */
export const listResponse = z.looseObject({
  totalResults: z.number().int().nonnegative(),
  startIndex: z.number().int().nullish(),
  itemsPerPage: z.number().int().nullish(),
  Resources: z.array(z.unknown()).nullish(),
});

/** RFC 7644 §3.12. `status` is a string per the RFC; some servers send a number. */
export const scimError = z.looseObject({
  schemas: z.array(z.string()).default([]),
  status: z.union([z.string(), z.number()]).nullish(),
  scimType: z.string().nullish(),
  detail: z.string().nullish(),
});
