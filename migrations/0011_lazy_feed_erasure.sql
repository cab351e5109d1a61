-- Migration 0011: the change feed needs no index by subject (issue 14: one D1 row written per
-- change instead of two). The only query that used it was erasure's rewrite of a user's earlier
-- changes, inside the applying batch. Erasure now records the subject in change_erasures; readers
-- redact through it at once (src/changes/erasure.ts) and the retention sweep rewrites the rows.
CREATE TABLE `change_erasures` (
	`provider` text NOT NULL,
	`subject` text NOT NULL,
	`through_seq` integer DEFAULT 0 NOT NULL,
	`through_occurred_at` integer,
	`recorded_at` integer NOT NULL,
	PRIMARY KEY(`provider`, `subject`)
) WITHOUT ROWID;
--> statement-breakpoint
DROP INDEX `changes_subject_idx`;
--> statement-breakpoint
DROP TRIGGER `changes_user_forgotten`;
--> statement-breakpoint
CREATE TRIGGER `changes_user_forgotten` AFTER UPDATE ON `users` FOR EACH ROW
WHEN OLD.forgotten_at IS NULL AND NEW.forgotten_at IS NOT NULL
BEGIN
  -- Erasure reaches the feed: every earlier change of this user keeps only ids. Recorded here and
  -- applied by every reader at once (src/changes/erasure.ts); the retention sweep rewrites the rows.
  -- An update, then an insert if there was nothing to update: a conflict clause inside a trigger
  -- would give way to the outer statement's (the users upsert's ABORT).
  UPDATE change_erasures SET through_seq = coalesce((SELECT max(seq) FROM changes), 0), recorded_at = CAST(unixepoch('subsec') * 1000 AS INTEGER)
  WHERE provider = NEW.provider AND subject = NEW.external_id;
  INSERT INTO change_erasures (provider, subject, through_seq, through_occurred_at, recorded_at)
  SELECT NEW.provider, NEW.external_id, coalesce((SELECT max(seq) FROM changes), 0), NULL, CAST(unixepoch('subsec') * 1000 AS INTEGER)
  WHERE NOT EXISTS (SELECT 1 FROM change_erasures AS e WHERE e.provider = NEW.provider AND e.subject = NEW.external_id);
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.forgotten', NEW.provider, OLD.organization_id, OLD.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id)), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
