/**
 * What the console is tested against, made through the real pipeline: signed deliveries over HTTP
 * (ingress verifies them, the Queue carries them, the consumer writes D1), answered and applied
 * like any provider's. Only a dead letter cannot be made cheaply (the Queue gives up after five
 * retries with backoff), so one is written into the local D1 the way the dead-letter consumer
 * writes it (consumer/event-log.ts recordDeadLetter), its body encoded by the project's own
 * src/queue-message.ts, so replaying it applies it for real.
 */
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { registerHooks } from "node:module";
import { scalekitEvent, scalekitUser } from "../support/scalekit.ts";
import { eventually } from "./harness.ts";

export interface Worker {
  url: string;
  query<T>(sql: string): T[];
}

/** What was seeded, for the tests to compare the pages with. */
export interface Seeded {
  /** Events per status and provider, as the event log must show them. */
  counts: Record<string, number> & { applied: number; dead_lettered: number };
  byProvider: Record<string, number>;
  deadLetter: { messageId: string; provider: string; eventId: string; userId: string };
  firstupUserIds: string[];
  /** The Scalekit directory announced by a directory_enabled event. */
  directoryId: string;
  /** The SCIM connection made through the admin API. */
  connectionId: string;
}

const APPLIED_SCALEKIT = 6;
const IGNORED_SCALEKIT = 2;
const QUARANTINED_SCALEKIT = 1;
const REJECTED_SCALEKIT = 1;

/** Sends every delivery, then waits until the event log shows each of them in its final status. */
export async function seed(worker: Worker, adminToken: string, firstupUserIds: string[]): Promise<Seeded> {
  const run = randomUUID().slice(0, 8);
  const scalekitKey = standardWebhooksKey("SCALEKIT_WEBHOOK_SECRET");
  const firstupKey = standardWebhooksKey("FIRSTUP_WEBHOOK_SECRET");

  for (let i = 0; i < APPLIED_SCALEKIT; i++) {
    const user = scalekitUser({ id: `user_browser_${run}_${i}`, email: `browser${i}@example.com`, given_name: "Browser", family_name: `User ${i}`, organization_id: "org_browser", directory_id: "dir_browser" });
    await deliver(worker.url, "scalekit", scalekitKey, JSON.stringify(scalekitEvent("user_created", user, { id: `evt_browser_${run}_${i}`, organization_id: "org_browser" })), 202);
  }
  // The directory those users belong to, as Scalekit announces it: the directories page lists it.
  const directory = { id: "dir_browser", organization_id: "org_browser", directory_type: "SCIM", provider: "OKTA", enabled: true, status: "ACTIVE" };
  const enabled = { id: `evt_browser_${run}_directory`, type: "organization.directory_enabled", timestamp: new Date().toISOString(), organization_id: "org_browser", data: directory };
  await deliver(worker.url, "scalekit", scalekitKey, JSON.stringify(enabled), 202);
  for (let i = 0; i < IGNORED_SCALEKIT; i++) {
    const body = { id: `evt_browser_${run}_ignored_${i}`, type: "organization.directory.something_new", timestamp: new Date().toISOString(), data: {} };
    await deliver(worker.url, "scalekit", scalekitKey, JSON.stringify(body), 202);
  }
  // Authentic, but a documented field has the wrong type: quarantined at ingress.
  for (let i = 0; i < QUARANTINED_SCALEKIT; i++) {
    const user = scalekitUser({ id: `user_browser_${run}_bad_${i}`, email: 12345 });
    await deliver(worker.url, "scalekit", scalekitKey, JSON.stringify(scalekitEvent("user_created", user, { id: `evt_browser_${run}_bad_${i}` })), 202);
  }
  // Authentic, but not JSON at all: answered 400 and recorded as rejected.
  for (let i = 0; i < REJECTED_SCALEKIT; i++) await deliver(worker.url, "scalekit", scalekitKey, "this is not json", 400);
  // Firstup only names the user; the consumer reads the record from the SCIM upstream.
  for (const userId of firstupUserIds) {
    const body = { event: "user.updated", timestamp: new Date().toISOString(), data: { user_id: userId } };
    await deliver(worker.url, "firstup", firstupKey, JSON.stringify(body), 202);
  }

  const deadLetter = await writeDeadLetter(worker, run);
  // A SCIM connection an identity provider would provision into, made through the admin API.
  const connection = await fetch(`${worker.url}/admin/scim-connections`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ organization_id: "org_browser", name: "Okta (browser test)" }),
  });
  if (connection.status !== 201) throw new Error(`creating a SCIM connection answered ${connection.status}: ${await connection.text()}`);
  const connectionId = ((await connection.json()) as { connection: { id: string } }).connection.id;

  const counts = {
    applied: APPLIED_SCALEKIT + 1 + firstupUserIds.length,
    ignored: IGNORED_SCALEKIT,
    quarantined: QUARANTINED_SCALEKIT,
    rejected: REJECTED_SCALEKIT,
    dead_lettered: 1,
  };
  const byProvider = { scalekit: APPLIED_SCALEKIT + 1 + IGNORED_SCALEKIT + QUARANTINED_SCALEKIT + REJECTED_SCALEKIT + 1, firstup: firstupUserIds.length };
  // The queue batches for up to 5 s (wrangler.toml); the SCIM reads come after.
  await eventually(
    "the seeded events to reach their final status in the event log",
    async () => {
      for (const [status, count] of Object.entries(counts)) {
        const seen = (await adminJson<{ events: unknown[] }>(worker.url, adminToken, `/admin/events?status=${status}&limit=100`)).events.length;
        if (seen !== count) return undefined;
      }
      return true;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  return { counts, byProvider, deadLetter, firstupUserIds, directoryId: directory.id, connectionId };
}

/** GET on the JSON admin API with the bearer token; throws on anything but 200. */
export async function adminJson<T>(url: string, token: string, path: string): Promise<T> {
  const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

async function deliver(url: string, provider: string, key: Buffer, body: string, expectedStatus: number): Promise<void> {
  const webhookId = `msg_${randomUUID()}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = createHmac("sha256", key).update(`${webhookId}.${timestamp}.${body}`).digest("base64");
  const response = await fetch(`${url}/webhooks/${provider}`, {
    method: "POST",
    headers: { "content-type": "application/json", "webhook-id": webhookId, "webhook-timestamp": String(timestamp), "webhook-signature": `v1,${signature}` },
    body,
  });
  const text = await response.text();
  if (response.status !== expectedStatus) throw new Error(`a ${provider} delivery answered ${response.status} (expected ${expectedStatus}): ${text}`);
}

/** A Standard Webhooks signing key (raw bytes) from .dev.vars.example, which `wrangler dev` here runs with. */
function standardWebhooksKey(name: string): Buffer {
  const value = new RegExp(`^${name}\\s*=\\s*"?([^"\\n]*)`, "m").exec(readFileSync(".dev.vars.example", "utf8"))?.[1];
  const secret = value?.split(/\s+/).find((entry) => entry.startsWith("whsec_"));
  if (!secret) throw new Error(`no whsec_ ${name} in .dev.vars.example`);
  return Buffer.from(secret.replace(/^whsec_/, ""), "base64");
}

/**
 * A Scalekit user_created event the Queue gave up on: its dead_letters row and its event_log row
 * (status dead_lettered, the message kept for replay), as recordDeadLetter writes them.
 */
async function writeDeadLetter(worker: Worker, run: string): Promise<Seeded["deadLetter"]> {
  const { toQueueMessages } = await queueMessageModule();
  const userId = `user_browser_${run}_dead`;
  const eventId = `evt_browser_${run}_dead`;
  const receivedAt = Date.now() - 90_000;
  const encoded = toQueueMessages(
    {
      provider: "scalekit",
      eventId,
      occurredAt: receivedAt - 1000,
      sourceType: "organization.directory.user_created",
      kind: "user_upserted",
      user: {
        externalId: userId,
        email: "dead.letter@example.com",
        firstName: "Dead",
        lastName: "Letter",
        active: true,
        organizationId: "org_browser",
        directoryId: "dir_browser",
        userName: null,
        scimExternalId: null,
        attributes: null,
      },
      groups: null,
    },
    receivedAt,
  );
  if (!encoded.ok || encoded.messages.length !== 1) throw new Error("the dead letter's queue message did not encode as one message");
  const body = JSON.stringify(encoded.messages[0]);
  const messageId = `browser-dlq-${run}`;
  const now = Date.now() - 60_000;
  // With the hour's counter for the console's chart, as recordDeadLetter adds it (consumer/pipeline-hourly.ts).
  const hour = Math.floor(now / 3_600_000) * 3_600_000;
  worker.query(
    `INSERT INTO pipeline_hourly (hour, status, events) VALUES (${hour}, 'dead_lettered', 1)
       ON CONFLICT (hour, status) DO UPDATE SET events = pipeline_hourly.events + 1;
     INSERT INTO dead_letters (message_id, provider, event_id, subject, body, recorded_at)
     VALUES (${sqlText(messageId)}, 'scalekit', ${sqlText(eventId)}, ${sqlText(userId)}, ${sqlText(body)}, ${now});
     INSERT INTO event_log (provider, event_id, subject, source_type, status, error, attempts, received_at, updated_at, message)
     VALUES ('scalekit', ${sqlText(eventId)}, ${sqlText(userId)}, 'organization.directory.user_created', 'dead_lettered', 'max_retries_exceeded', 6,
             ${receivedAt}, ${now}, ${sqlText(body)});`,
  );
  return { messageId, provider: "scalekit", eventId, userId };
}

const sqlText = (value: string) => `'${value.replaceAll("'", "''")}'`;

type QueueMessageModule = {
  toQueueMessages(event: unknown, receivedAt: number): { ok: true; messages: unknown[] } | { ok: false; code: string };
};

/**
 * src/ is written for wrangler's bundler (extensionless relative imports), which Node does not
 * resolve on its own: a resolve hook retries such an import with `.ts`. Imported through a
 * computed path, so the scripts' type check does not pull in src/ (written against workerd's types).
 */
async function queueMessageModule(): Promise<QueueMessageModule> {
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const fromSrc = context.parentURL?.includes("/src/") ?? false;
      if (fromSrc && /^\.\.?\//.test(specifier) && !/\.[cm]?[jt]s$/.test(specifier)) {
        try {
          return nextResolve(`${specifier}.ts`, context);
        } catch {
          return nextResolve(`${specifier}/index.ts`, context);
        }
      }
      return nextResolve(specifier, context);
    },
  });
  const path = new URL("../../src/queue-message.ts", import.meta.url).href;
  return (await import(path)) as QueueMessageModule;
}
