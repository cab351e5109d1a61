import { decodeBase64 } from "./base64";
import type { VerificationKeys } from "./keys";

/**
 * Standard Webhooks v1 signature verification with Web Crypto.
 * Spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 *
 * Signed content is `${webhook-id}.${webhook-timestamp}.${body}` over the exact bytes received.
 *
 * @example
 * const result = await verifyStandardWebhook({ headers, body, keys, nowSeconds, toleranceSeconds: 300 });
 * if (!result.ok) return c.json({ error: result.code }, 401);
 */

export type VerificationFailureCode =
  | "missing_signature_headers"
  | "invalid_timestamp"
  | "timestamp_outside_tolerance"
  | "invalid_signature";

export type VerificationResult =
  | { ok: true; webhookId: string; timestampSeconds: number }
  | { ok: false; code: VerificationFailureCode };

export interface VerificationInput {
  headers: Headers;
  body: Uint8Array;
  keys: VerificationKeys;
  nowSeconds: number;
  toleranceSeconds: number;
}

const HMAC_SHA256_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
// Each v1a entry costs an Ed25519 verification; bound the work one request can demand.
const MAX_SIGNATURES = 16;
// Digits only, no sign, no leading zero, at most 15 digits (safe integer seconds).
const STRICT_UNIX_SECONDS = /^[1-9][0-9]{0,14}$/;

const encoder = new TextEncoder();

export async function verifyStandardWebhook(input: VerificationInput): Promise<VerificationResult> {
  const webhookId = input.headers.get("webhook-id");
  const timestampText = input.headers.get("webhook-timestamp");
  const signatureHeader = input.headers.get("webhook-signature");
  if (!webhookId || !timestampText || !signatureHeader) return { ok: false, code: "missing_signature_headers" };

  if (!STRICT_UNIX_SECONDS.test(timestampText)) return { ok: false, code: "invalid_timestamp" };
  const timestampSeconds = Number(timestampText);
  if (Math.abs(input.nowSeconds - timestampSeconds) > input.toleranceSeconds) {
    return { ok: false, code: "timestamp_outside_tolerance" };
  }

  const tokens = signatureHeader.split(" ").filter(Boolean);
  if (tokens.length > MAX_SIGNATURES) return { ok: false, code: "invalid_signature" };
  const signatures = decodeSignatures(tokens);
  if (signatures.length === 0) return { ok: false, code: "invalid_signature" };

  const signedContent = concat(encoder.encode(`${webhookId}.${timestampText}.`), input.body);
  const verified =
    (await matchesHmac(signatures, input.keys.hmac, signedContent)) ||
    (await matchesEd25519(signatures, input.keys.ed25519, signedContent));
  return verified ? { ok: true, webhookId, timestampSeconds } : { ok: false, code: "invalid_signature" };
}

interface SignatureEntry {
  version: string;
  bytes: Uint8Array;
}

/** `v1,<b64>`, `v1a,<b64>` tokens → decoded entries; undecodable ones are dropped (they cannot match). */
function decodeSignatures(tokens: string[]): SignatureEntry[] {
  const entries: SignatureEntry[] = [];
  for (const token of tokens) {
    const comma = token.indexOf(",");
    if (comma <= 0) continue;
    const bytes = decodeBase64(token.slice(comma + 1));
    if (bytes) entries.push({ version: token.slice(0, comma), bytes });
  }
  return entries;
}

/**
 * One HMAC per configured key, however many `v1` signatures the header carries: the MAC is
 * computed once and compared against each candidate in constant time. Cheaper than calling
 * `crypto.subtle.verify` per (signature, key) pair, which would re-hash a large body each time.
 */
async function matchesHmac(signatures: SignatureEntry[], keys: CryptoKey[], content: Uint8Array): Promise<boolean> {
  const candidates = signatures.filter((s) => s.version === "v1" && s.bytes.length === HMAC_SHA256_BYTES);
  if (candidates.length === 0) return false;
  for (const key of keys) {
    const expected = new Uint8Array(await crypto.subtle.sign("HMAC", key, content));
    let matched = false;
    // No early exit: every candidate is compared so timing does not reveal which one matched.
    for (const candidate of candidates) matched = crypto.subtle.timingSafeEqual(expected, candidate.bytes) || matched;
    if (matched) return true;
  }
  return false;
}

async function matchesEd25519(signatures: SignatureEntry[], keys: CryptoKey[], content: Uint8Array): Promise<boolean> {
  for (const signature of signatures) {
    if (signature.version !== "v1a" || signature.bytes.length !== ED25519_SIGNATURE_BYTES) continue;
    for (const key of keys) {
      if (await crypto.subtle.verify({ name: "Ed25519" }, key, signature.bytes, content)) return true;
    }
  }
  return false;
}

function concat(head: Uint8Array, tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + tail.length);
  out.set(head, 0);
  out.set(tail, head.length);
  return out;
}
