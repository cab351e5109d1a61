/**
 * Official Standard Webhooks test vectors, from the reference libraries' own tests in
 * github.com/standard-webhooks/standard-webhooks:
 * - libraries/javascript/src/webhook.test.ts ("sign function works", the negative cases, multi-sig);
 * - libraries/go/webhook_asymmetric_test.go (TestAsymmetricWebhookSign, the v1a/Ed25519 vector).
 */
export const referenceMessage = {
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  payload: '{"test": 2432232314}',
};

/** Symmetric (v1, HMAC-SHA256). */
export const hmacVector = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  bareSecret: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

/** Asymmetric (v1a, Ed25519). The Go test gives the 32-byte private seed; the test derives the public key. */
export const ed25519Vector = {
  privateSeed: "VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=",
  /** Public key of `privateSeed`, derived with Web Crypto in standard-webhooks.unit.test.ts. */
  publicKey: "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=",
  signature: "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==",
};

/** Negative fixtures from the same JavaScript test file. */
export const negativeFixtures = {
  invalidSignature: "v1,dawfeoifkpqwoekfpqoekf",
  /** A signature entry that is well-formed but signs something else. */
  wrongSignature: "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
  wrongVersionSignature: "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
  emptySignature: "v1,",
  invalidTimestamp: "hello",
};
