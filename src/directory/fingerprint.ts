import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { DirectoryUser } from "../events";

/**
 * A content fingerprint of a user's normalized profile. Reconciliation compares it with the
 * stored one and writes nothing for unchanged users, so a nightly run over an unchanged
 * directory costs reads only. Synchronous on purpose (noble, not crypto.subtle): it runs per row
 * inside tight loops building SQL, where awaiting a digest per user would only add latency.
 */
export function userFingerprint(user: DirectoryUser): string {
  const canonical = [
    user.externalId,
    user.email,
    user.firstName,
    user.lastName,
    user.active,
    user.organizationId,
    user.directoryId,
    user.userName,
    user.scimExternalId,
    user.attributes ? Object.entries(user.attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : null,
    // Appended only when present, so users without provider roles keep the fingerprints stored
    // before the field existed (reconciliation would otherwise rewrite every one of them once).
    ...(user.providerRoles?.length ? [user.providerRoles] : []),
    // Likewise: only SCIM connection users have a profile, and every other user's fingerprint stays as it was.
    ...(user.profile ? [{ profile: user.profile }] : []),
  ];
  return bytesToHex(sha256(utf8ToBytes(JSON.stringify(canonical))));
}
