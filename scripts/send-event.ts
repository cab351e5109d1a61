/**
 * Sends a signed sample webhook to a locally running Worker, signed with the local secret.
 *
 *   npm run send -- scalekit user_created [--id user_abc123] [--url http://127.0.0.1:8787]
 *
 * Actions: user_created, user_updated, user_deleted, group_created, group_updated, group_deleted,
 * group_membership_updated. The secret is read from .dev.vars (SCALEKIT_WEBHOOK_SECRET).
 */
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { SCALEKIT_ACTIONS, sampleData, scalekitEvent, type ScalekitAction } from "../test/support/scalekit.ts";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { url: { type: "string", default: "http://127.0.0.1:8787" }, id: { type: "string" } },
});
const [provider, action] = positionals;
if (provider !== "scalekit" || !SCALEKIT_ACTIONS.includes(action as ScalekitAction)) {
  console.error(`usage: npm run send -- scalekit <${SCALEKIT_ACTIONS.join("|")}> [--id ID] [--url URL]`);
  process.exit(2);
}

const devVars = readFileSync(".dev.vars", "utf8");
const secretList = /^SCALEKIT_WEBHOOK_SECRET\s*=\s*"?([^"\n]*)"?/m.exec(devVars)?.[1];
const secret: string | undefined = secretList?.split(/\s+/).find((entry) => !entry.startsWith("whpk_"));
if (!secret) {
  console.error("No SCALEKIT_WEBHOOK_SECRET in .dev.vars (run `npm start` once to create it).");
  process.exit(2);
}

const data = sampleData(action as ScalekitAction);
if (values.id) data[action === "group_membership_updated" ? "group_id" : "id"] = values.id;
const body = JSON.stringify(scalekitEvent(action as ScalekitAction, data, { id: `evt_${randomUUID()}` }));
const webhookId = `msg_${randomUUID()}`;
const timestamp = Math.floor(Date.now() / 1000);
const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
const signature = createHmac("sha256", key).update(`${webhookId}.${timestamp}.${body}`).digest("base64");

const response = await fetch(`${values.url}/webhooks/${provider}`, {
  method: "POST",
  headers: {
    "content-type": "application/json",
    "webhook-id": webhookId,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": `v1,${signature}`,
  },
  body,
});
console.log(`${response.status} ${await response.text()}`);
process.exit(response.ok ? 0 : 1);
