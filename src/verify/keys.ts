import { decodeBase64 } from "./base64";

/**
 * Keys a Standard Webhooks endpoint accepts, imported once per isolate.
 *
 * The configured value is a whitespace-separated list so secrets can be rotated:
 * - `whsec_<base64>` or bare `<base64>`: a symmetric secret for `v1` (HMAC-SHA256);
 * - `whpk_<base64>`: a 32-byte Ed25519 public key for `v1a`.
 */
export interface VerificationKeys {
  hmac: CryptoKey[];
  ed25519: CryptoKey[];
}

export class InvalidSecretError extends Error {
  constructor(position: number) {
    // Never include the secret itself: this message can reach logs.
    super(`webhook secret #${position + 1} is not valid base64 of the expected length`);
    this.name = "InvalidSecretError";
  }
}

const HMAC_PREFIX = "whsec_";
const ED25519_PUBLIC_PREFIX = "whpk_";
const ED25519_PUBLIC_KEY_BYTES = 32;

// Importing a CryptoKey costs more than verifying a small body, so cache per secret list.
// Bounded in practice: one entry per configured secret value in this isolate.
const importedKeys = new Map<string, Promise<VerificationKeys>>();

export function verificationKeysFor(secretList: string): Promise<VerificationKeys> {
  let keys = importedKeys.get(secretList);
  if (!keys) {
    keys = importVerificationKeys(secretList);
    // A failed import is not cached, so a corrected secret takes effect without a redeploy race.
    keys.catch(() => importedKeys.delete(secretList));
    importedKeys.set(secretList, keys);
  }
  return keys;
}

export async function importVerificationKeys(secretList: string): Promise<VerificationKeys> {
  const keys: VerificationKeys = { hmac: [], ed25519: [] };
  const entries = secretList.split(/\s+/).filter(Boolean);
  for (const [position, entry] of entries.entries()) {
    if (entry.startsWith(ED25519_PUBLIC_PREFIX)) {
      const raw = decodeBase64(entry.slice(ED25519_PUBLIC_PREFIX.length));
      if (!raw || raw.length !== ED25519_PUBLIC_KEY_BYTES) throw new InvalidSecretError(position);
      keys.ed25519.push(await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]));
    } else {
      const base64 = entry.startsWith(HMAC_PREFIX) ? entry.slice(HMAC_PREFIX.length) : entry;
      const raw = decodeBase64(base64);
      if (!raw || raw.length === 0) throw new InvalidSecretError(position);
      keys.hmac.push(
        await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
      );
    }
  }
  return keys;
}
