import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createConnection, rotateConnectionToken } from "../../src/scim/connections";
import { deliverBatch } from "../support/consumer";
import { signInConsole, type ConsoleClient } from "../support/console";
import { errorCodeOf, hrefOf, noticeOf, rowsOf } from "../support/console-html";
import { eventMessage, events } from "../support/directory";

/**
 * The console's event log, event detail, and directories pages, through the app with a real
 * session (signed in through the form): filters select exactly the matching events, pages follow
 * their cursor, an event's detail shows its error and replays it (admins only), every value is
 * escaped, and SCIM connections never show a token.
 */

const T0 = Date.parse("2026-06-01T00:00:00Z");
const HOUR = 3_600_000;
const XSS_ID = "<script>alert('id')</script>";
const XSS_ERROR = `Error: <script>alert("error")</script> & more`;
const XSS_TYPE = "<img src=x onerror=alert(1)>";

/** One event_log row: provider, id, type, status, received at, and optional reason/error/message. */
type Seed = [string, string, string, string, number, { reason?: string; error?: string; message?: string; attempts?: number }?];

const dead = events.userUpserted("dl-user", T0, { email: "dl-user@example.com" }, "evt_dead_1");

const SEEDS: Seed[] = [
  ["scalekit", "evt_applied_1", "user.created", "applied", T0],
  ["scalekit", "evt_failed_1", "user.updated", "failed", T0 + 1 * HOUR, { error: "Error: upstream answered 503", attempts: 3 }],
  ["firstup", "evt_failed_2", "user.updated", "failed", T0 + 2 * HOUR, { error: "Error: upstream answered 500", attempts: 2 }],
  ["firstup", "evt_failed_3", "user.deactivated", "failed", T0 + 3 * HOUR, { error: "Error: timeout", attempts: 1 }],
  ["scalekit", "evt_ignored_1", "organization.created", "ignored", T0 + 4 * HOUR, { reason: "unsupported_event_type" }],
  ["scalekit", "evt_dead_1", "test", "dead_lettered", T0 + 5 * HOUR, { error: "max_retries_exceeded", message: JSON.stringify(eventMessage(dead, T0 + 5 * HOUR)) }],
  ["firstup", "evt_applied_2", "user.updated", "applied", T0 + 6 * HOUR],
  ["scalekit", XSS_ID, XSS_TYPE, "failed", T0 + 7 * HOUR, { error: XSS_ERROR }],
];
/** 55 failed events of a third provider, a second apart: more than one page of failures. */
const BULK = Array.from({ length: 55 }, (_, i): Seed => ["bulk", `evt_bulk_${String(i).padStart(2, "0")}`, "user.updated", "failed", T0 + 10 * HOUR + i * 1000]);

async function seedEventLog() {
  await env.DB.exec("DELETE FROM event_log;");
  const statements = [...SEEDS, ...BULK].map(([provider, eventId, type, status, at, extra = {}]) =>
    env.DB.prepare(
      `INSERT INTO event_log (provider, event_id, source_type, status, reason, error, attempts, received_at, updated_at, message)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).bind(provider, eventId, type, status, extra.reason ?? null, extra.error ?? null, extra.attempts ?? 1, at, at, extra.message ?? null),
  );
  await env.DB.batch(statements);
}

/** The events a page lists, as provider:event_id. */
async function listed(client: ConsoleClient, path: string) {
  const response = await client.get(path);
  expect(response.status, path).toBe(200);
  const html = await response.text();
  return { keys: rowsOf(html, "event-row").map((row) => `${row.attributes["data-provider"]}:${row.attributes["data-event-id"]}`), html };
}

/** Every page of a listing, following "Next page". */
async function walk(client: ConsoleClient, path: string) {
  const keys: string[] = [];
  let pages = 0;
  for (let next: string | null = path; next; pages++) {
    expect(pages, "the walk ends").toBeLessThan(50);
    const page = await listed(client, next);
    keys.push(...page.keys);
    next = hrefOf(page.html, "next-page");
  }
  return { keys, pages };
}

const key = (seed: Seed) => `${seed[0]}:${seed[1]}`;
/** The seeds matching `keep`, newest first (the order failures are listed in). */
const newestFirst = (keep: (seed: Seed) => boolean) =>
  [...SEEDS, ...BULK]
    .filter(keep)
    .sort((a, b) => b[4] - a[4])
    .map(key);
/** The seeds matching `keep`, in (provider, event_id) order (the order other listings use). */
const keyOrder = (keep: (seed: Seed) => boolean) =>
  [...SEEDS, ...BULK]
    .filter(keep)
    .sort((a, b) => (a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(key);
/** A Queue that only keeps what is sent, so the test decides when the consumer gets it. */
function keepingQueue() {
  const sent: unknown[] = [];
  return { queue: { send: async (body: unknown) => void sent.push(body) } as unknown as Queue, sent };
}
const utcInput = (ms: number) => new Date(ms).toISOString().slice(0, 16);

let admin: ConsoleClient;
let viewer: ConsoleClient;

beforeAll(async () => {
  await seedEventLog();
  admin = await signInConsole();
  viewer = await signInConsole({ token: "viewer-token", overrides: { READ_TOKENS: "viewer-token" } });
});

describe("event log page", () => {
  it("?status=failed: exactly the failed events, newest first, over two pages by the next-page link", async () => {
    const expected = newestFirst((seed) => seed[3] === "failed");
    expect(expected.length).toBeGreaterThan(50);
    const { keys, pages } = await walk(admin, "/admin/console/events?status=failed");
    expect(keys).toEqual(expected);
    expect(pages).toBe(2);
  });

  it("filters by status and provider, by type, and by time (UTC, from included, to not)", async () => {
    expect((await listed(admin, "/admin/console/events?status=failed&provider=firstup")).keys).toEqual(
      newestFirst((seed) => seed[3] === "failed" && seed[0] === "firstup"),
    );
    expect((await walk(admin, "/admin/console/events?type=user.updated")).keys).toEqual(keyOrder((seed) => seed[2] === "user.updated"));
    expect((await listed(admin, "/admin/console/events?status=failed&type=user.deactivated")).keys).toEqual(["firstup:evt_failed_3"]);
    expect((await listed(admin, "/admin/console/events?status=applied")).keys).toEqual(keyOrder((seed) => seed[3] === "applied"));
    expect((await listed(admin, "/admin/console/events?status=ignored&provider=scalekit")).keys).toEqual(["scalekit:evt_ignored_1"]);

    // From 01:00 to 03:00 UTC: the events received at 01:00 and 02:00, not the one at 03:00.
    const window = `from=${utcInput(T0 + HOUR)}&to=${utcInput(T0 + 3 * HOUR)}`;
    expect((await listed(admin, `/admin/console/events?${window}`)).keys).toEqual(["firstup:evt_failed_2", "scalekit:evt_failed_1"]);
    expect((await listed(admin, `/admin/console/events?status=failed&${window}`)).keys).toEqual(["firstup:evt_failed_2", "scalekit:evt_failed_1"]);
    // Seconds are accepted too, and an empty field is no filter (a GET form sends every field).
    expect((await walk(admin, `/admin/console/events?status=&provider=&type=&from=${utcInput(T0 + 6 * HOUR)}:00&to=`)).keys).toEqual(
      keyOrder((seed) => seed[4] >= T0 + 6 * HOUR),
    );
  });

  it("shows the filter back in the form and says the times are UTC", async () => {
    const { html } = await listed(admin, `/admin/console/events?status=failed&provider=firstup&from=${utcInput(T0)}`);
    expect(html).toContain('<option value="failed" selected="">failed</option>');
    expect(html).toMatch(/name="provider" value="firstup"/);
    expect(html).toContain(`value="${utcInput(T0)}"`);
    expect(html).toContain("Received from (UTC)");
  });

  it("answers a malformed filter with a 400 page and a stable code", async () => {
    for (const query of ["status=bogus", "from=yesterday", "to=2026-13-45T99:99", "cursor=not-a-cursor"]) {
      const response = await admin.get(`/admin/console/events?${query}`);
      expect(response.status, query).toBe(400);
      expect(errorCodeOf(await response.text()), query).toBe("invalid_query");
    }
  });

  it("escapes every value: an event id, type and error holding markup arrive as text", async () => {
    const list = await listed(admin, "/admin/console/events?status=failed&provider=scalekit");
    expect(list.keys).toContain(`scalekit:${XSS_ID}`);
    expect(list.html).not.toContain("<script>alert");
    expect(list.html).not.toContain("<img src=x");
    expect(list.html).toContain("&lt;script&gt;alert(&#39;id&#39;)&lt;/script&gt;");

    const detail = await admin.get(`/admin/console/events/scalekit/${encodeURIComponent(XSS_ID)}`);
    expect(detail.status).toBe(200);
    const html = await detail.text();
    expect(html).not.toContain("<script>alert");
    expect(html).not.toContain("<img src=x");
    expect(html).toContain("Error: &lt;script&gt;alert(&quot;error&quot;)&lt;/script&gt; &amp; more");
  });
});

describe("event detail page", () => {
  it("shows every field and the error; a failed event without a stored message has no Replay", async () => {
    const response = await admin.get("/admin/console/events/scalekit/evt_failed_1");
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain("Error: upstream answered 503");
    expect(html).toContain("2026-06-01 01:00:00 UTC");
    expect(html).toMatch(/<td data-testid="status" class="status-failed">failed<\/td>/);
    expect(html).not.toContain('data-testid="replay"');
  });

  it("404 for an unknown event", async () => {
    const response = await admin.get("/admin/console/events/scalekit/nope");
    expect(response.status).toBe(404);
    expect(errorCodeOf(await response.text())).toBe("not_found");
  });

  it("an admin replays a dead-lettered event: 303 back with a notice, and once applied the page shows it and no Replay", async () => {
    const page = await admin.get("/admin/console/events/scalekit/evt_dead_1");
    const html = await page.text();
    expect(html).toContain('data-testid="replay"');
    expect(html).toContain('action="/admin/console/events/scalekit/evt_dead_1/replay"');
    // Admins see the stored message, as GET /admin/events/:id shows it to admin tokens.
    expect(html).toContain('data-testid="event-message"');

    const { queue, sent } = keepingQueue();
    const replayer = await signInConsole({ overrides: { EVENTS_QUEUE: queue } });
    const replay = await replayer.post("/admin/console/events/scalekit/evt_dead_1/replay");
    expect(replay.status).toBe(303);
    expect(replay.headers.get("location")).toBe("/admin/console/events/scalekit/evt_dead_1?notice=replayed");
    expect(sent).toHaveLength(1);
    await deliverBatch(sent);

    const after = await admin.get(replay.headers.get("location")!);
    const afterHtml = await after.text();
    expect(noticeOf(afterHtml)?.code).toBe("replayed");
    expect(afterHtml).toMatch(/<td data-testid="status" class="status-applied">applied<\/td>/);
    expect(afterHtml).not.toContain('data-testid="replay"');
    // Replaying an applied event is refused with the JSON API's code, as a notice.
    const again = await admin.post("/admin/console/events/scalekit/evt_dead_1/replay");
    expect(again.headers.get("location")).toBe("/admin/console/events/scalekit/evt_dead_1?notice=not_replayable");
  });

  it("a viewer sees the event but no Replay and no stored payload; a viewer's replay POST is 403 and sends nothing", async () => {
    await env.DB.prepare("UPDATE event_log SET status = 'dead_lettered' WHERE event_id = 'evt_dead_1'").run();
    const html = await (await viewer.get("/admin/console/events/scalekit/evt_dead_1")).text();
    expect(html).toMatch(/<td data-testid="status" class="status-dead_lettered">dead_lettered<\/td>/);
    expect(html).not.toContain('data-testid="replay"');
    expect(html).not.toContain('data-testid="event-message"');
    expect(html).not.toContain("dl-user@example.com");

    const { queue, sent } = keepingQueue();
    const viewerWithQueue = await signInConsole({ token: "viewer-token", overrides: { READ_TOKENS: "viewer-token", EVENTS_QUEUE: queue } });
    const response = await viewerWithQueue.post("/admin/console/events/scalekit/evt_dead_1/replay");
    expect(response.status).toBe(403);
    expect(errorCodeOf(await response.text())).toBe("insufficient_scope");
    expect(sent).toEqual([]);
  });
});

describe("directories and connections page", () => {
  it("lists directories and SCIM connections with their rotation state, never a token or its hash", async () => {
    await env.DB.prepare(
      `INSERT INTO directories (provider, id, organization_id, directory_type, idp_provider, enabled, status, last_event_at, last_event_version, created_at, updated_at)
       VALUES ('scalekit', 'dir_<b>1</b>', 'org_1', 'SCIM', 'OKTA', 1, 'active', ?1, 'v', ?1, ?1), ('scalekit', 'dir_2', 'org_2', 'SCIM', 'ENTRA_ID', 0, 'disabled', ?1, 'v', ?1, ?1)`,
    )
      .bind(T0)
      .run();
    const now = Date.now();
    const rotated = await createConnection(env.DB, { organizationId: "org_1", name: "Okta <prod>" }, now);
    const rotation = await rotateConnectionToken(env.DB, rotated.connection.id, { now });
    expect(rotation.ok).toBe(true);
    const plain = await createConnection(env.DB, { organizationId: "org_2", name: null }, now);
    const hashes = (await env.DB.prepare("SELECT token_hash, previous_token_hash FROM scim_connections").all<{ token_hash: string; previous_token_hash: string | null }>()).results;

    const response = await viewer.get("/admin/console/directories");
    expect(response.status).toBe(200);
    const html = await response.text();
    const directories = rowsOf(html, "directory-row");
    // In (provider, id) order: "dir_2" sorts before "dir_<b>1</b>" ('2' < '<').
    expect(directories.map((row) => row.status)).toEqual(["disabled", "enabled"]);
    expect(html).toContain("dir_&lt;b&gt;1&lt;/b&gt;");
    const connections = rowsOf(html, "connection-row");
    expect(connections.map((row) => row.attributes["data-connection-id"]).sort()).toEqual([rotated.connection.id, plain.connection.id].sort());
    const rotatedRow = connections.find((row) => row.attributes["data-connection-id"] === rotated.connection.id)!;
    expect(rotatedRow.status).toBe("active");
    expect(rotatedRow.html).toContain("Okta &lt;prod&gt;");
    expect(rotatedRow.html).toMatch(/rotating: the previous token works until/);
    expect(connections.find((row) => row.attributes["data-connection-id"] === plain.connection.id)!.html).toContain("one token");
    for (const secret of [rotated.token, plain.token, rotation.ok ? rotation.issued.token : "", ...hashes.flatMap((row) => [row.token_hash, row.previous_token_hash ?? ""])]) {
      if (secret) expect(html).not.toContain(secret);
    }
  });
});
