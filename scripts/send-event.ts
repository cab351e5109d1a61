/**
 * Sends a signed sample webhook to a locally running Worker, signed with the local secret.
 *
 *   npm run send -- scalekit user_created [--id user_abc123] [--event-id evt_1] [--url http://127.0.0.1:8787]
 *   npm run send -- firstup user.updated --id demo-0001
 *
 * Scalekit actions: user_created, user_updated, user_deleted, group_created, group_updated,
 * group_deleted, group_membership_updated. Firstup events: user.updated, user.deactivated,
 * user.deleted. Secrets are read from .dev.vars (SCALEKIT_WEBHOOK_SECRET, FIRSTUP_WEBHOOK_SECRET).
 */
import { createHmac, randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { devVar } from "./dev-vars.ts";
import { SCALEKIT_ACTIONS, sampleData, scalekitEvent, type ScalekitAction } from "../test/support/scalekit.ts";

const FIRSTUP_EVENTS = ["user.updated", "user.deactivated", "user.deleted"];
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { url: { type: "string", default: "http://127.0.0.1:8787" }, id: { type: "string" }, "event-id": { type: "string" } },
});
const [provider, action = ""] = positionals;

function usage(): never {
  console.error(`usage: npm run send -- scalekit <${SCALEKIT_ACTIONS.join("|")}> [--id ID] [--event-id EVENT_ID] [--url URL]`);
  console.error(`       npm run send -- firstup <${FIRSTUP_EVENTS.join("|")}> --id USER_ID [--url URL]`);
  process.exit(2);
}

let body: string;
let secretName: string;
if (provider === "scalekit" && SCALEKIT_ACTIONS.includes(action as ScalekitAction)) {
  const data = sampleData(action as ScalekitAction);
  if (values.id) data[action === "group_membership_updated" ? "group_id" : "id"] = values.id;
  // A fixed --event-id lets you watch the duplicate path: the second delivery answers "duplicate".
  body = JSON.stringify(scalekitEvent(action as ScalekitAction, data, { id: values["event-id"] ?? `evt_${randomUUID()}` }));
  secretName = "SCALEKIT_WEBHOOK_SECRET";
} else if (provider === "firstup" && FIRSTUP_EVENTS.includes(action) && values.id) {
  // Firstup's payload shape, from its user-sync guide.
  body = JSON.stringify({ event: action, timestamp: new Date().toISOString(), data: { user_id: values.id } });
  secretName = "FIRSTUP_WEBHOOK_SECRET";
} else {
  usage();
}

const secret = devVar(secretName)?.split(/\s+/).find((entry) => !entry.startsWith("whpk_"));
if (!secret) {
  console.error(`No ${secretName} in .dev.vars (run \`npm start\` once to create it).`);
  process.exit(2);
}
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
