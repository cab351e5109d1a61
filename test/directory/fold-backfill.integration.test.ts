import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import { backfillFoldKeys } from "../../src/directory/fold-backfill";
import { callApp } from "../support/worker";

/**
 * Rows written before migration 0002 have keys only for ASCII values (SQLite's lower() folds
 * nothing else). The cron's backfill computes the rest, after which SCIM finds them.
 */
it("fills the case-folded keys of non-ASCII values left by the migration, so SCIM filters find them", async () => {
  await env.DB.prepare(
    `INSERT INTO users (provider, external_id, user_name, email, first_name, active, created_at, updated_at, last_event_at, last_event_version)
     VALUES ('firstup', 'legacy_1', 'Élodie@Exemple.fr', 'Élodie@Exemple.fr', 'Ölaf', 1, 0, 0, 0, '0')`,
  ).run();
  await env.DB.prepare(
    `INSERT INTO groups (provider, external_id, name, created_at, updated_at, last_event_at, last_event_version) VALUES ('firstup', 'legacy_g', 'Équipe', 0, 0, 0, '0')`,
  ).run();
  const find = async () => {
    const response = await callApp(
      new Request(`https://sync.example.com/scim/v2/Users?filter=${encodeURIComponent('userName eq "élodie@exemple.fr"')}`, { headers: { authorization: "Bearer test-admin-token" } }),
    );
    return ((await response.json()) as { totalResults: number }).totalResults;
  };
  expect(await find()).toBe(0);
  expect(await backfillFoldKeys(env.DB)).toBe(2);
  expect(await find()).toBe(1);
  expect(await env.DB.prepare("SELECT first_name_key, email_key FROM users WHERE external_id = 'legacy_1'").first()).toEqual({ first_name_key: "ölaf", email_key: "élodie@exemple.fr" });
  expect(await env.DB.prepare("SELECT name_key FROM groups WHERE external_id = 'legacy_g'").first()).toEqual({ name_key: "équipe" });
  // Done: nothing left to fill.
  expect(await backfillFoldKeys(env.DB)).toBe(0);
});
