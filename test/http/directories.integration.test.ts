import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { DirectoryEvent } from "../../src/events";
import { deliverBatch } from "../support/consumer";
import { eventMessage } from "../support/directory";
import { callApp } from "../support/worker";

/**
 * GET /v1/directories and GET /admin/directories: what operators and applications see of the
 * directories enable/disable events recorded, and that an organization-scoped token sees only its own.
 */

const BASE = "https://sync.example.com";
const READ_TOKENS = "read-everything tenant_a:read-tenant-a";
const ADMIN = { authorization: "Bearer test-admin-token" };
const EVERYTHING = { authorization: "Bearer read-everything" };
const TENANT_A = { authorization: "Bearer read-tenant-a" };

const get = (path: string, headers: Record<string, string>) => callApp(new Request(BASE + path, { headers }), { READ_TOKENS });

const t = Date.parse("2026-04-01T00:00:00Z");
let sequence = 0;

function directory(id: string, organizationId: string | null, enabled: boolean, provider = "scalekit"): DirectoryEvent {
  return {
    provider,
    eventId: `evt_dir_${sequence++}`,
    occurredAt: t,
    sourceType: enabled ? "organization.directory_enabled" : "organization.directory_disabled",
    kind: "directory_changed",
    directory: { id, organizationId, directoryType: "SCIM", idpProvider: "OKTA", enabled, status: enabled ? "IN_SYNC" : "DISABLED" },
  };
}

type Page = { directories: { id: string; directory_id: string; organization_id: string | null; enabled: boolean | null }[]; next_cursor: string | null };

async function walk(path: string, headers: Record<string, string>, limit = 2): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const separator = path.includes("?") ? "&" : "?";
    const response = await get(`${path}${separator}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, headers);
    expect(response.status, path).toBe(200);
    const body = (await response.json()) as Page;
    ids.push(...body.directories.map((row) => row.id));
    cursor = body.next_cursor;
  } while (cursor !== null);
  return ids;
}

beforeAll(async () => {
  await env.DB.exec("DELETE FROM directories;");
  const batch = [
    directory("dir_a1", "tenant_a", true),
    directory("dir_a2", "tenant_a", false),
    directory("dir_b1", "tenant_b", true),
    directory("dir_none", null, false),
    directory("dir_f1", "tenant_a", true, "firstup"),
  ];
  const { result } = await deliverBatch(batch.map((event) => eventMessage(event)));
  expect(result.retryMessages).toEqual([]);
});

const ALL = ["firstup:dir_f1", "scalekit:dir_a1", "scalekit:dir_a2", "scalekit:dir_b1", "scalekit:dir_none"];

describe("GET /v1/directories", () => {
  it("shows a directory as recorded", async () => {
    const response = await get("/v1/directories?provider=scalekit&enabled=false&organization_id=tenant_a", ADMIN);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      directories: [
        {
          id: "scalekit:dir_a2",
          provider: "scalekit",
          directory_id: "dir_a2",
          organization_id: "tenant_a",
          directory_type: "SCIM",
          idp_provider: "OKTA",
          enabled: false,
          status: "DISABLED",
          last_event_at: new Date(t).toISOString(),
          created_at: expect.any(String),
          updated_at: expect.any(String),
        },
      ],
      next_cursor: null,
    });
  });

  it.each([
    ["an admin token", ADMIN],
    ["an unscoped read token", EVERYTHING],
  ])("%s sees every directory, across pages", async (_, headers) => {
    expect(await walk("/v1/directories", headers)).toEqual(ALL);
  });

  it("an organization-scoped token sees only its organization's, whatever it asks for", async () => {
    expect(await walk("/v1/directories", TENANT_A)).toEqual(["firstup:dir_f1", "scalekit:dir_a1", "scalekit:dir_a2"]);
    expect(await walk("/v1/directories?organization_id=tenant_b", TENANT_A)).toEqual([]);
  });

  it("filters by enabled and provider", async () => {
    expect(await walk("/v1/directories?enabled=true", EVERYTHING)).toEqual(["firstup:dir_f1", "scalekit:dir_a1", "scalekit:dir_b1"]);
    expect(await walk("/v1/directories?provider=firstup", EVERYTHING)).toEqual(["firstup:dir_f1"]);
  });

  it("rejects a bad query with invalid_query, and a missing token with 401", async () => {
    const response = await get("/v1/directories?enabled=maybe", ADMIN);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_query" });
    expect((await get("/v1/directories", {})).status).toBe(401);
  });
});

describe("GET /admin/directories", () => {
  it("lists every directory to an admin token", async () => {
    expect(await walk("/admin/directories", ADMIN)).toEqual(ALL);
    expect(await walk("/admin/directories?enabled=false", ADMIN)).toEqual(["scalekit:dir_a2", "scalekit:dir_none"]);
  });

  it.each([EVERYTHING, TENANT_A])("refuses read tokens with 403 insufficient_scope", async (headers) => {
    const response = await get("/admin/directories", headers);
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: "insufficient_scope" });
  });
});
