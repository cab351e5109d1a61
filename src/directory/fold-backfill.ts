import { foldCaseOrNull } from "./fold";

/**
 * Fills case-folded keys that SQL could not compute: migration 0002 backfilled keys of ASCII
 * values only (SQLite's lower() folds nothing else), leaving the rest NULL for this. Every write
 * since sets keys itself, so this only ever sees rows from before the migration; it runs on every
 * cron trigger, `limit` rows per table at a time, and stops costing anything once they are done.
 */
export async function backfillFoldKeys(d1: D1Database, limit = 500): Promise<number> {
  const users = await d1
    .prepare(
      `SELECT provider, external_id, user_name, email, first_name, last_name FROM users
       WHERE (user_name IS NOT NULL AND user_name_key IS NULL) OR (email IS NOT NULL AND email_key IS NULL)
          OR (first_name IS NOT NULL AND first_name_key IS NULL) OR (last_name IS NOT NULL AND last_name_key IS NULL)
       LIMIT ?`,
    )
    .bind(limit)
    .all<{ provider: string; external_id: string; user_name: string | null; email: string | null; first_name: string | null; last_name: string | null }>();
  const groups = await d1
    .prepare("SELECT provider, external_id, name FROM groups WHERE name IS NOT NULL AND name_key IS NULL LIMIT ?")
    .bind(limit)
    .all<{ provider: string; external_id: string; name: string }>();
  if (users.results.length === 0 && groups.results.length === 0) return 0;

  const userKeys = users.results.map((row) => ({
    provider: row.provider,
    externalId: row.external_id,
    userNameKey: foldCaseOrNull(row.user_name),
    emailKey: foldCaseOrNull(row.email),
    firstNameKey: foldCaseOrNull(row.first_name),
    lastNameKey: foldCaseOrNull(row.last_name),
  }));
  const groupKeys = groups.results.map((row) => ({ provider: row.provider, externalId: row.external_id, nameKey: foldCaseOrNull(row.name) }));
  await d1.batch([
    d1
      .prepare(
        `UPDATE users SET user_name_key = k.value ->> 'userNameKey', email_key = k.value ->> 'emailKey',
                first_name_key = k.value ->> 'firstNameKey', last_name_key = k.value ->> 'lastNameKey'
         FROM json_each(?) AS k WHERE users.provider = k.value ->> 'provider' AND users.external_id = k.value ->> 'externalId'`,
      )
      .bind(JSON.stringify(userKeys)),
    d1
      .prepare(
        `UPDATE groups SET name_key = k.value ->> 'nameKey'
         FROM json_each(?) AS k WHERE groups.provider = k.value ->> 'provider' AND groups.external_id = k.value ->> 'externalId'`,
      )
      .bind(JSON.stringify(groupKeys)),
  ]);
  return userKeys.length + groupKeys.length;
}
