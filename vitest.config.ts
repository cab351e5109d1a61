import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { startAppReceiver } from "./test/support/app-receiver";
import { startScalekitApi } from "./test/support/scalekit-api";
import { startScimServer } from "./test/support/scim-server";

// Test-only secrets: an HMAC secret list of two (rotation) whose second entry is the Standard
// Webhooks reference secret (test/support/vectors.ts). Bindings set here win over a developer's
// .dev.vars, so tests never depend on local files.
const TEST_WEBHOOK_SECRET = "whsec_dGVzdC1vbGQtc2VjcmV0LXJvdGF0ZWQtb3V0LXNvb24= whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// Tests run inside workerd with the real D1, KV and Queue bindings from wrangler.toml.
export default defineConfig(async () => {
  // A real SCIM 2.0 server (SCIMMY) on 127.0.0.1, standing in for Firstup's upstream. It runs in
  // this Node process; workerd reaches it over loopback. Each test file uses its own tenant.
  const scim = await startScimServer();
  // A local Scalekit Directory API (token + directory routes), one environment per test file.
  const scalekit = await startScalekitApi();
  // The application that receives change notifications (verifies each with the reference library).
  const appReceiver = await startAppReceiver();
  return {
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
            "directory-notifications": { maxBatchSize: 10, maxBatchTimeout: 0.05, maxRetries: 25, deadLetterQueue: "directory-notifications-dlq" },
            "directory-notifications-dlq": { maxBatchSize: 100, maxBatchTimeout: 0.05, maxRetries: 10 },
          },
          bindings: {
            TEST_MIGRATIONS: await readD1Migrations("./migrations"),
            TEST_SCIM_SERVER: scim.url,
            TEST_SCALEKIT_API: scalekit.url,
            TEST_APP_RECEIVER: appReceiver.url,
            SCALEKIT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
            FIRSTUP_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
            FIRSTUP_WEBHOOK_AUTHORIZATION: "",
            // The upstream seen through the real bindings is tenant "default" of the test server.
            FIRSTUP_SCIM_URL: `${scim.url}/t/default/scim/v2`,
            FIRSTUP_SCIM_TOKEN: "test-scim-token",
            // Firstup's webhook subscription API (the console's status): off unless a test sets it.
            FIRSTUP_API_TOKEN: "",
            ADMIN_TOKEN: "test-admin-token",
            // Pinned empty, so a developer's .dev.vars (written by \`npm start\`) never reaches the tests:
            // each test that needs one of these sets it itself.
            READ_TOKENS: "",
            SCALEKIT_ENVIRONMENT_URL: "",
            SCALEKIT_CLIENT_ID: "",
            SCALEKIT_CLIENT_SECRET: "",
            APP_WEBHOOK_URL: "",
            APP_WEBHOOK_SECRET: "",
            RETRY_BASE_DELAY_SECONDS: "0",
          },
        },
      }),
    ],
    test: {
      setupFiles: ["./test/apply-migrations.ts"],
      testTimeout: 30_000,
      // The Worker's structured log lines (one JSON object per event) are noise in test output.
      onConsoleLog: (line: string) => !line.startsWith('{"event":'),
    },
  };
});
