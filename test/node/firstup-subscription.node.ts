/**
 * `npm run firstup:subscribe` and `npm run firstup:status` as an operator runs them: real Node
 * child processes against the Firstup emulator (test/support/firstup-subscriptions.ts, mounted by
 * the SCIM test server) over HTTP. Run by `npm run test:node` (node --test), not by vitest: vitest
 * runs inside workerd, which cannot start processes.
 *
 * Each test has its own emulator tenant. The scripts run from an empty directory with only PATH in
 * their environment, so a developer's .dev.vars or exported tokens never reach them.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import type { StoredSubscription, WebhookTenantSetup } from "../support/firstup-subscriptions.ts";
import { startScimServer } from "../support/scim-server.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const WORKER_URL = "https://sync.example.com/webhooks/firstup";
const WRITE_TOKEN = "write-token-5f1c9a";
const READ_TOKEN = "read-token-7d2e4b";
const TOKENS = { [WRITE_TOKEN]: ["webhooks.read", "webhooks.write"], [READ_TOKEN]: ["webhooks.read"] };
const USER_EVENTS = ["user.updated", "user.deactivated", "user.deleted"].map((name) => ({ name, version: "1" }));

let server: Awaited<ReturnType<typeof startScimServer>>;
let tenants = 0;
const scratch = mkdtempSync(join(tmpdir(), "firstup-scripts-"));

before(async () => {
  server = await startScimServer();
});
after(async () => {
  await server.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** A fresh emulator tenant; returns its API base and a reader of what it stores. */
async function tenant(setup: WebhookTenantSetup = {}) {
  const base = `${server.url}/t/node-${++tenants}`;
  const response = await fetch(`${base}/__control/webhooks`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ tokens: TOKENS, ...setup }) });
  assert.equal(response.status, 204);
  return {
    api: base,
    state: async () => (await (await fetch(`${base}/__control/webhooks`)).json()) as { subscriptions: StoredSubscription[]; requests: { list: number; create: number; update: number } },
  };
}

function run(script: "firstup-subscribe" | "firstup-status", args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(ROOT, "scripts", `${script}.ts`), ...args], { cwd: scratch, env: { PATH: process.env.PATH ?? "", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

const subscribe = (api: string, args: string[] = [], env: Record<string, string> = {}) =>
  run("firstup-subscribe", ["--api", api, "--url", WORKER_URL, ...args], { FIRSTUP_API_TOKEN: WRITE_TOKEN, ...env });
const status = (api: string, args: string[] = ["--url", WORKER_URL], env: Record<string, string> = {}) =>
  run("firstup-status", ["--api", api, ...args], { FIRSTUP_API_TOKEN: READ_TOKEN, ...env });

describe("firstup:subscribe", () => {
  test("creates one active subscription with the three user events at version 1, and a re-run changes nothing", async () => {
    const firstup = await tenant();
    const first = await subscribe(firstup.api);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /Created: sub_1/);

    const created = (await firstup.state()).subscriptions;
    assert.equal(created.length, 1);
    assert.equal(created[0]!.url, WORKER_URL);
    assert.equal(created[0]!.active, true);
    assert.equal(created[0]!.name, "directory-sync");
    assert.deepEqual(created[0]!.events, USER_EVENTS);
    assert.equal(created[0]!.authorization_header, undefined);

    const again = await subscribe(firstup.api);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Already subscribed, nothing to do: sub_1/);
    const { subscriptions, requests } = await firstup.state();
    assert.equal(subscriptions.length, 1);
    assert.deepEqual({ create: requests.create, update: requests.update }, { create: 1, update: 0 });
  });

  test("repairs an inactive subscription lacking events through the update route, keeping its other events, and creates none", async () => {
    const firstup = await tenant({
      subscriptions: [{ id: "sub_old", url: WORKER_URL, active: false, events: [{ name: "content_published", version: "1" }, { name: "user.updated", version: "1" }] }],
    });
    const dryRun = await subscribe(firstup.api, ["--dry-run"]);
    assert.equal(dryRun.code, 1);
    assert.match(dryRun.stdout, /active: false → true/);
    assert.match(dryRun.stdout, /events: add user\.deactivated/);
    assert.match(dryRun.stdout, /events: add user\.deleted/);
    assert.equal((await firstup.state()).requests.update, 0);

    const repaired = await subscribe(firstup.api);
    assert.equal(repaired.code, 0, repaired.stderr);
    assert.match(repaired.stdout, /Updated: sub_old/);
    const { subscriptions, requests } = await firstup.state();
    assert.equal(subscriptions.length, 1);
    assert.equal(requests.create, 0);
    assert.equal(subscriptions[0]!.active, true);
    assert.deepEqual(
      subscriptions[0]!.events.map((event) => `${event.name}@${event.version}`).sort(),
      ["content_published@1", "user.deactivated@1", "user.deleted@1", "user.updated@1"],
    );
  });

  test("moves a subscription on another event version to version 1", async () => {
    const firstup = await tenant({ subscriptions: [{ id: "sub_v2", url: WORKER_URL, active: true, events: [...USER_EVENTS.slice(1), { name: "user.updated", version: "2" }] }] });
    const result = await subscribe(firstup.api);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /events: user\.updated version 2 → 1/);
    assert.deepEqual((await firstup.state()).subscriptions[0]!.events.find((event) => event.name === "user.updated"), { name: "user.updated", version: "1" });
  });

  test("leaves a subscription pointing elsewhere alone, names it, and subscribes this URL", async () => {
    const firstup = await tenant({ subscriptions: [{ id: "sub_stale", url: "https://old.example.com/webhooks/firstup", active: true, events: USER_EVENTS }] });
    const result = await subscribe(firstup.api);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /elsewhere: sub_stale sends user events to https:\/\/old\.example\.com\/webhooks\/firstup/);
    const { subscriptions } = await firstup.state();
    assert.equal(subscriptions.length, 2);
    assert.equal(subscriptions.find((subscription) => subscription.id === "sub_stale")!.url, "https://old.example.com/webhooks/firstup");
  });

  test("header mode: sets the Authorization value on create, replaces a different one, and never prints either", async () => {
    const firstup = await tenant();
    const created = await subscribe(firstup.api, [], { FIRSTUP_WEBHOOK_AUTHORIZATION: "Bearer first-value-1a2b" });
    assert.equal(created.code, 0, created.stderr);
    assert.equal((await firstup.state()).subscriptions[0]!.authorization_header, "Bearer first-value-1a2b");

    const rotated = await subscribe(firstup.api, [], { FIRSTUP_WEBHOOK_AUTHORIZATION: "Bearer second-value-3c4d" });
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /authorization_header: replaced/);
    const { subscriptions } = await firstup.state();
    assert.equal(subscriptions.length, 1);
    assert.equal(subscriptions[0]!.authorization_header, "Bearer second-value-3c4d");
    for (const output of [created.stdout, created.stderr, rotated.stdout, rotated.stderr]) {
      assert.doesNotMatch(output, /first-value|second-value|write-token/);
    }
  });

  test("without FIRSTUP_API_TOKEN: exit 2, says which variable, asks Firstup nothing", async () => {
    const firstup = await tenant();
    const result = await run("firstup-subscribe", ["--api", firstup.api, "--url", WORKER_URL]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /FIRSTUP_API_TOKEN is not set/);
    assert.deepEqual((await firstup.state()).requests, { list: 0, create: 0, update: 0 });
  });

  test("a token Firstup does not know: exit 1, unauthorized; a read-only token: exit 1, forbidden, nothing created", async () => {
    const firstup = await tenant();
    const unknown = await subscribe(firstup.api, [], { FIRSTUP_API_TOKEN: "not-a-token" });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /HTTP 401 \(unauthorized\)/);
    assert.doesNotMatch(unknown.stderr + unknown.stdout, /not-a-token/);

    const readOnly = await subscribe(firstup.api, [], { FIRSTUP_API_TOKEN: READ_TOKEN });
    assert.equal(readOnly.code, 1);
    assert.match(readOnly.stderr, /HTTP 403 \(forbidden\)/);
    assert.match(readOnly.stderr, /webhooks\.write/);
    assert.equal((await firstup.state()).subscriptions.length, 0);
  });

  test("usage errors exit 2 before any request: no --url, a plain-http public URL, an unknown flag", async () => {
    const firstup = await tenant();
    const env = { FIRSTUP_API_TOKEN: WRITE_TOKEN };
    const noUrl = await run("firstup-subscribe", ["--api", firstup.api], env);
    assert.equal(noUrl.code, 2);
    assert.match(noUrl.stderr, /--url is required/);
    const plainHttp = await run("firstup-subscribe", ["--api", firstup.api, "--url", "http://sync.example.com/webhooks/firstup"], env);
    assert.equal(plainHttp.code, 2);
    assert.match(plainHttp.stderr, /https/);
    const unknownFlag = await run("firstup-subscribe", ["--api", firstup.api, "--url", WORKER_URL, "--token", "x"], env);
    assert.equal(unknownFlag.code, 2);
    assert.deepEqual((await firstup.state()).requests, { list: 0, create: 0, update: 0 });
  });
});

describe("firstup:status", () => {
  test("a healthy subscription: exit 0, listed with its events, no token or header value in the output", async () => {
    const firstup = await tenant({ subscriptions: [{ id: "sub_ok", name: "directory-sync", url: WORKER_URL, active: true, events: USER_EVENTS, authorization_header: "Bearer hidden-9f8e" }] });
    const result = await status(firstup.api);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /sub_ok {2}directory-sync {2}https:\/\/sync\.example\.com\/webhooks\/firstup {2}active {2}user\.updated@1, user\.deactivated@1, user\.deleted@1 {2}authorization header set/);
    assert.match(result.stdout, /^OK: sub_ok/m);
    assert.doesNotMatch(result.stdout + result.stderr, /hidden-9f8e|read-token/);
  });

  test("flags an inactive subscription: exit 1", async () => {
    const firstup = await tenant({ subscriptions: [{ id: "sub_off", url: WORKER_URL, active: false, events: USER_EVENTS }] });
    const result = await status(firstup.api);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /sub_off .* INACTIVE/);
    assert.match(result.stdout, /- inactive: sub_off is inactive/);
    assert.match(result.stdout, /- not_subscribed:/);
  });

  test("flags a subscription pointing elsewhere: exit 1, even beside a healthy one", async () => {
    const firstup = await tenant({
      subscriptions: [
        { id: "sub_ok", url: WORKER_URL, active: true, events: USER_EVENTS },
        { id: "sub_elsewhere", url: "https://old.example.com/webhooks/firstup", active: true, events: USER_EVENTS },
        { id: "sub_content", url: "https://cms.example.com/hook", active: true, events: [{ name: "content_published", version: "1" }] },
      ],
    });
    const result = await status(firstup.api);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /- elsewhere: sub_elsewhere sends user events to https:\/\/old\.example\.com\/webhooks\/firstup/);
    // Another integration's subscription is listed, not flagged.
    assert.match(result.stdout, /sub_content .*\(no user events: not this Worker's\)/);
    assert.doesNotMatch(result.stdout, /- \w+: sub_content/);
  });

  test("flags missing events and another version: exit 1", async () => {
    const firstup = await tenant({ subscriptions: [{ id: "sub_partial", url: WORKER_URL, active: true, events: [{ name: "user.updated", version: "2" }, { name: "user.deactivated", version: "1" }] }] });
    const result = await status(firstup.api);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /- missing_events: sub_partial does not subscribe user\.deleted/);
    assert.match(result.stdout, /- wrong_version: sub_partial subscribes user\.updated at version 2/);
  });

  test("header mode: a subscription sending a value the Worker does not accept is flagged", async () => {
    const firstup = await tenant({ subscriptions: [{ id: "sub_auth", url: WORKER_URL, active: true, events: USER_EVENTS, authorization_header: "Bearer old-value" }] });
    const accepted = await status(firstup.api, ["--url", WORKER_URL], { FIRSTUP_WEBHOOK_AUTHORIZATION: "Bearer new-value, Bearer old-value" });
    assert.equal(accepted.code, 0, accepted.stdout);
    const refused = await status(firstup.api, ["--url", WORKER_URL], { FIRSTUP_WEBHOOK_AUTHORIZATION: "Bearer new-value" });
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /- authorization_mismatch: sub_auth/);
    assert.doesNotMatch(refused.stdout + refused.stderr, /old-value|new-value/);
  });

  test("against the local emulator without --url, expects npm start's address", async () => {
    const firstup = await tenant({ subscriptions: [{ url: "http://127.0.0.1:8787/webhooks/firstup", active: true, events: USER_EVENTS }] });
    const result = await status(firstup.api, []);
    assert.equal(result.code, 0, result.stdout);
    assert.match(result.stdout, /Expected URL: http:\/\/127\.0\.0\.1:8787\/webhooks\/firstup/);
  });

  test("no subscriptions at all: exit 1, not_subscribed", async () => {
    const firstup = await tenant();
    const result = await status(firstup.api);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /0 subscriptions/);
    assert.match(result.stdout, /- not_subscribed: no active subscription delivers/);
  });

  test("without a token: exit 2; a write-only scope set cannot list: exit 1", async () => {
    const firstup = await tenant({ tokens: { ...TOKENS, "write-only": ["webhooks.write"] } });
    const missing = await run("firstup-status", ["--api", firstup.api, "--url", WORKER_URL]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /FIRSTUP_API_TOKEN is not set/);
    const writeOnly = await status(firstup.api, ["--url", WORKER_URL], { FIRSTUP_API_TOKEN: "write-only" });
    assert.equal(writeOnly.code, 1);
    assert.match(writeOnly.stderr, /HTTP 403 \(forbidden\)/);
  });
});
