import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { InvalidSigningSecretError, parseSigningSecret, signerFor } from "../../src/notify/sign";
import { decodeBase64, encodeBase64 } from "../../src/verify/base64";
import { importVerificationKeys } from "../../src/verify/keys";
import { verifyStandardWebhook } from "../../src/verify/standard-webhooks";

// The Standard Webhooks reference secret (its spec and libraries' test vectors).
const V1_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
// RFC 8032 §7.1, TEST 1: the private seed and its public key.
const RFC8032_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC8032_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

const hex = (text: string) => new Uint8Array(text.match(/../g)!.map((byte) => parseInt(byte, 16)));
const body = JSON.stringify({ type: "user.deactivated", seq: 42, data: { user: { id: "u_1", name: "Zoë" } } });
const content = (id: string, timestamp: number, text: string) => new TextEncoder().encode(`${id}.${timestamp}.${text}`);

async function verifyEd25519(publicRaw: Uint8Array, signatureHeader: string, id: string, timestamp: number, text: string) {
  const [version, signature] = signatureHeader.split(",");
  expect(version).toBe("v1a");
  const key = await crypto.subtle.importKey("raw", publicRaw, { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, decodeBase64(signature!)!, content(id, timestamp, text));
}

describe("outbound signing (Standard Webhooks)", () => {
  it("v1: the reference library verifies our signature, and rejects it on another body", async () => {
    const signer = await signerFor(V1_SECRET);
    expect(signer.scheme).toBe("v1");
    expect(signer.publicKey).toBeNull();
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = { "webhook-id": "chg_42", "webhook-timestamp": String(timestamp), "webhook-signature": await signer.sign("chg_42", timestamp, body) };
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(V1_SECRET).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(V1_SECRET).verify(body.replace("u_1", "u_2"), headers)).toThrow();
    expect(() => new Webhook(V1_SECRET).verify(body, { ...headers, "webhook-id": "chg_43" })).toThrow();
  });

  it("v1a from a raw seed: the RFC 8032 public key, and signatures that verify with it", async () => {
    const signer = await signerFor(`whsk_${encodeBase64(hex(RFC8032_SEED))}`);
    expect(signer.scheme).toBe("v1a");
    expect(signer.publicKey).toBe(`whpk_${encodeBase64(hex(RFC8032_PUBLIC))}`);
    const signature = await signer.sign("chg_7", 1767225600, body);
    expect(await verifyEd25519(hex(RFC8032_PUBLIC), signature, "chg_7", 1767225600, body)).toBe(true);
    expect(await verifyEd25519(hex(RFC8032_PUBLIC), signature, "chg_7", 1767225601, body)).toBe(false);
  });

  it("v1a from PKCS#8: the public key matches the pair's, and our own verifier accepts the delivery", async () => {
    const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const pkcs8 = new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer);
    const publicRaw = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
    const signer = await signerFor(`whsk_${encodeBase64(pkcs8)}`);
    expect(signer.publicKey).toBe(`whpk_${encodeBase64(publicRaw)}`);

    const timestamp = Math.floor(Date.now() / 1000);
    const headers = new Headers({ "webhook-id": "chg_9", "webhook-timestamp": String(timestamp), "webhook-signature": await signer.sign("chg_9", timestamp, body) });
    const keys = await importVerificationKeys(signer.publicKey!);
    const verified = await verifyStandardWebhook({ headers, body: new TextEncoder().encode(body), keys, nowSeconds: timestamp, toleranceSeconds: 300 });
    expect(verified).toEqual({ ok: true, webhookId: "chg_9", timestampSeconds: timestamp });
  });

  it.each([
    ["no prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    ["a public key instead of a private one", `whpk_${encodeBase64(hex(RFC8032_PUBLIC))}`],
    ["not base64", "whsec_not*base64"],
    ["a short HMAC key", `whsec_${encodeBase64(new Uint8Array(8))}`],
    ["a 31-byte seed", `whsk_${encodeBase64(new Uint8Array(31))}`],
    ["empty", ""],
  ])("refuses %s, without echoing it", async (_, secret) => {
    expect(parseSigningSecret(secret)).toBeNull();
    const error = await signerFor(secret).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidSigningSecretError);
    if (secret) expect(String(error)).not.toContain(secret.slice(6));
  });

  it("refuses DER that is not an Ed25519 private key", async () => {
    const der = `whsk_${encodeBase64(new Uint8Array([0x30, ...new Uint8Array(40)]))}`;
    expect(parseSigningSecret(der)).not.toBeNull();
    await expect(signerFor(der)).rejects.toBeInstanceOf(InvalidSigningSecretError);
  });
});
