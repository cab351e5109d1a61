import { decodeBase64, encodeBase64 } from "../../src/verify/base64";

/**
 * Signs deliveries the way a Standard Webhooks sender does, so tests exercise the real verifier.
 * TEST_SECRET is the second entry of SCALEKIT_WEBHOOK_SECRET in vitest.config.ts.
 */
export const TEST_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
export const ROTATED_OUT_SECRET = "whsec_dGVzdC1vbGQtc2VjcmV0LXJvdGF0ZWQtb3V0LXNvb24=";

const encoder = new TextEncoder();

export async function hmacSignature(secret: string, id: string, timestamp: number | string, body: string | Uint8Array) {
  const raw = decodeBase64(secret.replace(/^whsec_/, ""));
  if (!raw) throw new Error("test secret is not base64");
  const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const prefix = encoder.encode(`${id}.${timestamp}.`);
  const content = new Uint8Array(prefix.length + bytes.length);
  content.set(prefix);
  content.set(bytes, prefix.length);
  return `v1,${encodeBase64(new Uint8Array(await crypto.subtle.sign("HMAC", key, content)))}`;
}

export interface SignedDeliveryOptions {
  id?: string;
  timestamp?: number;
  secret?: string;
}

let counter = 0;

/** Headers for a signed POST of `body`. Timestamp defaults to now. */
export async function signedHeaders(body: string | Uint8Array, options: SignedDeliveryOptions = {}) {
  const id = options.id ?? `msg_test_${Date.now()}_${counter++}`;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": await hmacSignature(options.secret ?? TEST_SECRET, id, timestamp, body),
  };
}
