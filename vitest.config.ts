import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Test-only secrets: an HMAC secret list of two (rotation) whose second entry is the Standard
// Webhooks reference secret (test/support/vectors.ts). The miniflare binding below is what tests
// see, even when a developer's .dev.vars exists; process.env only satisfies wrangler's
// `[secrets] required` check on a clean clone (which would otherwise warn).
const TEST_WEBHOOK_SECRET = "whsec_dGVzdC1vbGQtc2VjcmV0LXJvdGF0ZWQtb3V0LXNvb24= whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
process.env.SCALEKIT_WEBHOOK_SECRET ??= TEST_WEBHOOK_SECRET;

// Tests run inside workerd with the real D1, KV and Queue bindings from wrangler.toml.
export default defineConfig(async () => ({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        // Lets tests call exports.default.queue() directly; test-only, never in wrangler.toml.
        compatibilityFlags: ["service_binding_extra_handlers"],
        // Same queues as wrangler.toml, delivered without the 5 s batching wait so end-to-end
        // tests drain quickly; two retries before dead-lettering.
        queueConsumers: {
          "directory-events": { maxBatchSize: 100, maxBatchTimeout: 0.05, maxRetries: 2, deadLetterQueue: "directory-events-dlq" },
          "directory-events-dlq": { maxBatchSize: 100, maxBatchTimeout: 0.05, maxRetries: 10 },
        },
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations("./migrations"),
          SCALEKIT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
          RETRY_BASE_DELAY_SECONDS: "0",
        },
      },
    }),
  ],
  test: {
    setupFiles: ["./test/apply-migrations.ts"],
    testTimeout: 30_000,
  },
}));
