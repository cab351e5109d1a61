import { decodeBase64, encodeBase64 } from "../verify/base64";

/**
 * Standard Webhooks signing of outbound notifications, with Web Crypto (the sending side of
 * src/verify/standard-webhooks.ts). The signed content is `${webhook-id}.${webhook-timestamp}.${body}`.
 *
 * APP_WEBHOOK_SECRET selects the scheme:
 * - `whsec_<base64>`: a symmetric secret → `v1,<base64 HMAC-SHA256>`; the app holds the same secret;
 * - `whsk_<base64>`: an Ed25519 private key (a 32-byte seed, or PKCS#8 DER) → `v1a,<base64 signature>`;
 *   the app holds only the public key, `whpk_<base64 of its 32 raw bytes>` (signerFor(...).publicKey).
 *
 * @example
 * const signer = await signerFor(env.APP_WEBHOOK_SECRET);
 * headers.set("webhook-signature", await signer.sign("chg_42", 1767225600, body));
 */

export type SigningScheme = "v1" | "v1a";

export interface WebhookSigner {
  scheme: SigningScheme;
  /** `whpk_…` for v1a (what the app verifies with); null for v1, whose secret is shared. */
  publicKey: string | null;
  /** The `webhook-signature` header value for this id, timestamp (Unix seconds) and exact body. */
  sign(id: string, timestampSeconds: number, body: string): Promise<string>;
}

export type ParsedSigningSecret = { scheme: "v1"; key: Uint8Array } | { scheme: "v1a"; pkcs8: Uint8Array };

const HMAC_PREFIX = "whsec_";
const ED25519_PRIVATE_PREFIX = "whsk_";
const ED25519_PUBLIC_PREFIX = "whpk_";
const ED25519_SEED_BYTES = 32;
/** RFC 8410 PKCS#8 wrapping of a raw Ed25519 seed: what Web Crypto imports (it has no "raw" private import). */
const ED25519_PKCS8_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
/** An HMAC key shorter than this is guessable offline from one signed request. */
const MIN_HMAC_KEY_BYTES = 16;
const DER_SEQUENCE = 0x30;

const encoder = new TextEncoder();

/**
 * The secret's scheme and key bytes, or null when it is not a usable secret. Synchronous and
 * side-effect free, so configuration validation (src/config.ts) can call it; it never echoes the
 * secret, and callers must not either.
 */
export function parseSigningSecret(secret: string): ParsedSigningSecret | null {
  const text = secret.trim();
  if (text.startsWith(HMAC_PREFIX)) {
    const key = decodeBase64(text.slice(HMAC_PREFIX.length));
    return key && key.length >= MIN_HMAC_KEY_BYTES ? { scheme: "v1", key } : null;
  }
  if (text.startsWith(ED25519_PRIVATE_PREFIX)) {
    const bytes = decodeBase64(text.slice(ED25519_PRIVATE_PREFIX.length));
    if (!bytes) return null;
    if (bytes.length === ED25519_SEED_BYTES) return { scheme: "v1a", pkcs8: concat(ED25519_PKCS8_PREFIX, bytes) };
    // Anything else must at least look like DER; importKey decides whether it is an Ed25519 key.
    return bytes.length > ED25519_SEED_BYTES && bytes[0] === DER_SEQUENCE ? { scheme: "v1a", pkcs8: bytes } : null;
  }
  return null;
}

export class InvalidSigningSecretError extends Error {
  constructor() {
    // Never the secret: this message can reach logs.
    super("APP_WEBHOOK_SECRET is not a whsec_ secret or a whsk_ Ed25519 private key");
    this.name = "InvalidSigningSecretError";
  }
}

// Importing a key costs more than signing a small body; one entry per configured secret value.
const signers = new Map<string, Promise<WebhookSigner>>();

/** The signer for a secret, imported once per isolate. Rejects with InvalidSigningSecretError. */
export function signerFor(secret: string): Promise<WebhookSigner> {
  let signer = signers.get(secret);
  if (!signer) {
    signer = importSigner(secret);
    // A failed import is not cached, so a corrected secret takes effect at once.
    signer.catch(() => signers.delete(secret));
    signers.set(secret, signer);
  }
  return signer;
}

async function importSigner(secret: string): Promise<WebhookSigner> {
  const parsed = parseSigningSecret(secret);
  if (!parsed) throw new InvalidSigningSecretError();
  if (parsed.scheme === "v1") {
    const key = await crypto.subtle.importKey("raw", parsed.key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return {
      scheme: "v1",
      publicKey: null,
      sign: async (id, timestamp, body) => `v1,${encodeBase64(new Uint8Array(await crypto.subtle.sign("HMAC", key, signedContent(id, timestamp, body))))}`,
    };
  }
  let key: CryptoKey;
  try {
    // Extractable only so the public half can be read back (JWK `x`) for operators.
    key = await crypto.subtle.importKey("pkcs8", parsed.pkcs8, { name: "Ed25519" }, true, ["sign"]);
  } catch {
    throw new InvalidSigningSecretError();
  }
  const jwk = (await crypto.subtle.exportKey("jwk", key)) as JsonWebKey;
  const publicRaw = jwk.x ? decodeBase64Url(jwk.x) : null;
  if (!publicRaw || publicRaw.length !== ED25519_SEED_BYTES) throw new InvalidSigningSecretError();
  return {
    scheme: "v1a",
    publicKey: `${ED25519_PUBLIC_PREFIX}${encodeBase64(publicRaw)}`,
    sign: async (id, timestamp, body) => `v1a,${encodeBase64(new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, signedContent(id, timestamp, body))))}`,
  };
}

function signedContent(id: string, timestampSeconds: number, body: string): Uint8Array {
  return encoder.encode(`${id}.${timestampSeconds}.${body}`);
}

function decodeBase64Url(text: string): Uint8Array | null {
  const standard = text.replace(/-/g, "+").replace(/_/g, "/");
  return decodeBase64(standard + "=".repeat((4 - (standard.length % 4)) % 4));
}

function concat(head: Uint8Array, tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + tail.length);
  out.set(head, 0);
  out.set(tail, head.length);
  return out;
}
