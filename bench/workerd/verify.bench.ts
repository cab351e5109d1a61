import { it } from "vitest";
import { Webhook } from "standardwebhooks";
import { encodeBase64 } from "../../src/verify/base64";
import { importVerificationKeys } from "../../src/verify/keys";
import { verifyStandardWebhook } from "../../src/verify/standard-webhooks";
import { hmacSignature } from "../../test/support/sign";
import { measure, report } from "./measure";

/**
 * Signature verification: this project's verifier vs the `standardwebhooks` reference library
 * on the same deliveries, and a bare SHA-256 digest of the same bytes as the floor.
 * Two secrets are configured and the delivery is signed with the second (both verifiers must try
 * both). The reference's verify() also parses the JSON body, so ours is timed with the same
 * JSON.parse for a like-for-like comparison.
 */
const randomSecret = () => `whsec_${encodeBase64(crypto.getRandomValues(new Uint8Array(32)))}`;

/** A valid JSON envelope of exactly `bytes` bytes. */
function jsonBody(bytes: number): string {
  const empty = JSON.stringify({ id: "evt_bench", type: "organization.directory.user_updated", data: { filler: "" } });
  return JSON.stringify({ id: "evt_bench", type: "organization.directory.user_updated", data: { filler: "x".repeat(bytes - empty.length) } });
}

it("signature verification", async () => {
  const [secretA, secretB] = [randomSecret(), randomSecret()];
  const keys = await importVerificationKeys(`${secretA} ${secretB}`);
  const referenceA = new Webhook(secretA);
  const referenceB = new Webhook(secretB);
  const rows = [];
  for (const size of [2 * 1024, 256 * 1024]) {
    for (const signatureCount of [1, 3]) {
      const payload = jsonBody(size);
      const bytes = new TextEncoder().encode(payload);
      const id = "msg_bench";
      const timestamp = Math.floor(Date.now() / 1000);
      const valid = await hmacSignature(secretB, id, timestamp, payload);
      const wrong = await hmacSignature(secretA, "msg_other", timestamp, payload);
      const signature = signatureCount === 1 ? valid : [wrong, wrong.replace("v1,", "v2,"), valid].join(" ");
      const headerObject = { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signature };
      const headers = new Headers(headerObject);
      const decoder = new TextDecoder();

      const ours = await measure(async () => {
        const result = await verifyStandardWebhook({ headers, body: bytes, keys, nowSeconds: Math.floor(Date.now() / 1000), toleranceSeconds: 300 });
        if (!result.ok) throw new Error("ours rejected a valid delivery");
        return JSON.parse(decoder.decode(bytes));
      });
      const reference = await measure(() => {
        try {
          return referenceA.verify(payload, headerObject);
        } catch {
          return referenceB.verify(payload, headerObject);
        }
      });
      const digest = await measure(() => crypto.subtle.digest("SHA-256", bytes));
      // Verification alone, against the digest floor: signed by the second secret (two HMAC passes
      // by construction) and by the first (one).
      const verifyOnly = async (signatureHeader: string) => {
        const only = new Headers({ ...headerObject, "webhook-signature": signatureHeader });
        return measure(async () => {
          const result = await verifyStandardWebhook({ headers: only, body: bytes, keys, nowSeconds: Math.floor(Date.now() / 1000), toleranceSeconds: 300 });
          if (!result.ok) throw new Error("rejected a valid delivery");
        });
      };
      const signedByFirst = await hmacSignature(secretA, id, timestamp, payload);
      const oursVerifySecond = await verifyOnly(signature);
      const oursVerifyFirst = await verifyOnly(signatureCount === 1 ? signedByFirst : [wrong, wrong.replace("v1,", "v2,"), signedByFirst].join(" "));
      rows.push({ bodyBytes: size, signatures: signatureCount, secrets: 2, ours, reference, digest, oursVerifySecond, oursVerifyFirst });
    }
  }
  await report("verify", rows);
}, 180_000);
