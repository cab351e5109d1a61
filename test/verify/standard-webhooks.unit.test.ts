import { describe, expect, it } from "vitest";
import { decodeBase64, encodeBase64 } from "../../src/verify/base64";
import { importVerificationKeys, InvalidSecretError } from "../../src/verify/keys";
import { verifyStandardWebhook } from "../../src/verify/standard-webhooks";
import { hmacSignature } from "../support/sign";
import { ed25519Vector, hmacVector, negativeFixtures, referenceMessage } from "../support/vectors";

const body = new TextEncoder().encode(referenceMessage.payload);

function headers(signature: string, overrides: Record<string, string | null> = {}) {
  const values: Record<string, string | null> = {
    "webhook-id": referenceMessage.id,
    "webhook-timestamp": String(referenceMessage.timestamp),
    "webhook-signature": signature,
    ...overrides,
  };
  const result = new Headers();
  for (const [name, value] of Object.entries(values)) if (value !== null) result.set(name, value);
  return result;
}

async function verify(secret: string, requestHeaders: Headers, nowSeconds = referenceMessage.timestamp, payload = body) {
  const keys = await importVerificationKeys(secret);
  return verifyStandardWebhook({ headers: requestHeaders, body: payload, keys, nowSeconds, toleranceSeconds: 300 });
}

describe("official vectors", () => {
  it("accepts the reference v1 (HMAC-SHA256) signature", async () => {
    expect(await verify(hmacVector.secret, headers(hmacVector.signature))).toEqual({
      ok: true,
      webhookId: referenceMessage.id,
      timestampSeconds: referenceMessage.timestamp,
    });
  });

  it("our signer reproduces the reference v1 signature", async () => {
    expect(await hmacSignature(hmacVector.secret, referenceMessage.id, referenceMessage.timestamp, referenceMessage.payload)).toBe(
      hmacVector.signature,
    );
  });

  it("accepts the secret with and without the whsec_ prefix", async () => {
    expect((await verify(hmacVector.bareSecret, headers(hmacVector.signature))).ok).toBe(true);
  });

  it("derives the reference Ed25519 public key from the reference seed", async () => {
    const pkcs8Prefix = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
    const seed = decodeBase64(ed25519Vector.privateSeed)!;
    const pkcs8 = new Uint8Array([...pkcs8Prefix, ...seed]);
    const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
    const jwk = (await crypto.subtle.exportKey("jwk", privateKey)) as JsonWebKey;
    const publicKey = encodeBase64(decodeBase64(jwk.x!.replace(/-/g, "+").replace(/_/g, "/") + "=")!);
    expect(`whpk_${publicKey}`).toBe(ed25519Vector.publicKey);
  });

  it("accepts the reference v1a (Ed25519) signature", async () => {
    expect((await verify(ed25519Vector.publicKey, headers(ed25519Vector.signature))).ok).toBe(true);
  });

  it("accepts a header holding several signatures when any one matches", async () => {
    const list = [negativeFixtures.wrongSignature, negativeFixtures.wrongVersionSignature, hmacVector.signature, negativeFixtures.wrongSignature];
    expect((await verify(hmacVector.secret, headers(list.join(" ")))).ok).toBe(true);
  });

  it("accepts when any configured secret matches (rotation), in either position", async () => {
    const other = "whsec_b3RoZXItc2VjcmV0LWZvci1yb3RhdGlvbi10ZXN0cw==";
    expect((await verify(`${other} ${hmacVector.secret}`, headers(hmacVector.signature))).ok).toBe(true);
    expect((await verify(`${hmacVector.secret}  ${other}`, headers(hmacVector.signature))).ok).toBe(true);
    expect((await verify(`${other} ${ed25519Vector.publicKey}`, headers(ed25519Vector.signature))).ok).toBe(true);
  });
});

describe("negative fixtures", () => {
  const rejects = (code: string) => ({ ok: false, code });

  it.each([
    ["webhook-id", "missing id"],
    ["webhook-timestamp", "missing timestamp"],
    ["webhook-signature", "missing signature"],
  ])("rejects a delivery without %s (%s)", async (header) => {
    expect(await verify(hmacVector.secret, headers(hmacVector.signature, { [header]: null }))).toEqual(rejects("missing_signature_headers"));
  });

  it.each([
    [negativeFixtures.invalidSignature, "invalid base64 of the wrong length"],
    [hmacVector.signature.slice(0, 8), "partial signature"],
    [negativeFixtures.emptySignature, "empty signature"],
    [negativeFixtures.wrongSignature, "well-formed but wrong"],
    [negativeFixtures.wrongVersionSignature, "unknown version"],
    ["v1,!!!not-base64!!!", "malformed base64"],
    ["v1,g0hM9SsE-OTPJTGt_tmIKtSyZlE3uFJELVlNIOLJ1OE=", "URL-safe alphabet"],
    ["g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "no version prefix"],
    [`v1a,${hmacVector.signature.slice(3)}`, "an HMAC presented as v1a"],
    [ed25519Vector.signature.replace("v1a,", "v1,"), "an Ed25519 signature presented as v1"],
  ])("rejects signature %j (%s)", async (signature) => {
    expect(await verify(`${hmacVector.secret} ${ed25519Vector.publicKey}`, headers(signature))).toEqual(rejects("invalid_signature"));
  });

  it("treats a blank signature header as missing (Fetch trims header values)", async () => {
    expect(await verify(hmacVector.secret, headers(" "))).toEqual(rejects("missing_signature_headers"));
  });

  it("rejects a signature over a different body (one byte changed)", async () => {
    const tampered = new TextEncoder().encode(referenceMessage.payload.replace("2", "3"));
    expect(await verify(hmacVector.secret, headers(hmacVector.signature), referenceMessage.timestamp, tampered)).toEqual(
      rejects("invalid_signature"),
    );
  });

  it("rejects a signature made with another id or timestamp", async () => {
    expect(await verify(hmacVector.secret, headers(hmacVector.signature, { "webhook-id": "msg_other" }))).toEqual(rejects("invalid_signature"));
    const later = String(referenceMessage.timestamp + 1);
    expect(await verify(hmacVector.secret, headers(hmacVector.signature, { "webhook-timestamp": later }))).toEqual(rejects("invalid_signature"));
  });

  it("rejects when the key does not match, and v1a when only HMAC secrets are configured", async () => {
    expect(await verify("whsec_b3RoZXItc2VjcmV0LWZvci1yb3RhdGlvbi10ZXN0cw==", headers(hmacVector.signature))).toEqual(rejects("invalid_signature"));
    expect(await verify(hmacVector.secret, headers(ed25519Vector.signature))).toEqual(rejects("invalid_signature"));
  });

  it.each([negativeFixtures.invalidTimestamp, "0123", "12abc", "", "1614265330.5", "-1614265330", "+1614265330", "1e9", "0x60", "١٦١٤٢٦٥٣٣٠"])(
    "rejects timestamp %j (strict integer parsing)",
    async (timestamp) => {
      const result = await verify(hmacVector.secret, headers(hmacVector.signature, { "webhook-timestamp": timestamp }));
      expect(result).toEqual(timestamp === "" ? rejects("missing_signature_headers") : rejects("invalid_timestamp"));
    },
  );

  it("enforces ±300 s tolerance with an injected clock, inclusive at the edge", async () => {
    const at = (now: number) => verify(hmacVector.secret, headers(hmacVector.signature), now);
    expect((await at(referenceMessage.timestamp + 300)).ok).toBe(true);
    expect((await at(referenceMessage.timestamp - 300)).ok).toBe(true);
    expect(await at(referenceMessage.timestamp + 301)).toEqual(rejects("timestamp_outside_tolerance"));
    expect(await at(referenceMessage.timestamp - 301)).toEqual(rejects("timestamp_outside_tolerance"));
  });

  it("bounds the work one header can demand (more than 16 signatures is rejected)", async () => {
    const many = [...Array(17).fill(negativeFixtures.wrongSignature), hmacVector.signature].join(" ");
    expect(await verify(hmacVector.secret, headers(many))).toEqual(rejects("invalid_signature"));
  });
});

describe("configured secrets", () => {
  it.each(["whsec_!!!", "whpk_AAAA", "whpk_" + "A".repeat(44), "not base64 at all?"])(
    "refuses to import %j without echoing it",
    async (secret) => {
      const error = await importVerificationKeys(secret).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidSecretError);
      expect(String(error)).not.toContain(secret.slice(6));
    },
  );
});
