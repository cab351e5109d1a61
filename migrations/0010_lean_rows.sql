-- Migration 0010: fewer D1 rows written per event (issue 14). Every row and every index entry a
-- statement writes is billed; before this an applied event wrote about 14.
--
-- 1. processed_events is merged into event_log: an event is applied once its event_log row says
--    `applied` (consumer/event-log.ts), so the exactly-once authority is one primary key. What
--    processed_events also held, claims on reconciliation steps, moves to work_claims.
CREATE TABLE `work_claims` (
	`scope` text NOT NULL,
	`key` text NOT NULL,
	`claimed_at` integer NOT NULL,
	PRIMARY KEY(`scope`, `key`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `work_claims` (`scope`, `key`, `claimed_at`)
SELECT p.`provider`, p.`event_id`, p.`processed_at` FROM `processed_events` AS p
WHERE NOT EXISTS (SELECT 1 FROM `event_log` AS e WHERE e.`provider` = p.`provider` AND e.`event_id` = p.`event_id`);
--> statement-breakpoint
-- An event recorded in processed_events is applied, whatever its log row said last.
UPDATE `event_log` SET `status` = 'applied'
WHERE `status` <> 'applied' AND EXISTS (SELECT 1 FROM `processed_events` AS p WHERE p.`provider` = `event_log`.`provider` AND p.`event_id` = `event_log`.`event_id`);
--> statement-breakpoint
DROP TABLE `processed_events`;
--> statement-breakpoint
-- 2. event_log WITHOUT ROWID (one row written per event instead of the row plus its primary-key
--    index), and only partial indexes, which applied events never enter.
CREATE TABLE `__new_event_log` (
	`provider` text NOT NULL,
	`event_id` text NOT NULL,
	`source_type` text NOT NULL,
	`status` text NOT NULL,
	`reason` text,
	`error` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`occurred_at` integer,
	`received_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`message` text,
	`subject` text,
	`delivery` text,
	`absent_since` integer,
	PRIMARY KEY(`provider`, `event_id`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_event_log` (`provider`, `event_id`, `source_type`, `status`, `reason`, `error`, `attempts`, `occurred_at`, `received_at`, `updated_at`, `message`, `subject`, `delivery`, `absent_since`)
SELECT `provider`, `event_id`, `source_type`, `status`, `reason`, `error`, `attempts`, `occurred_at`, `received_at`, `updated_at`, `message`, `subject`, `delivery`, `absent_since` FROM `event_log`;
--> statement-breakpoint
DROP TABLE `event_log`;
--> statement-breakpoint
ALTER TABLE `__new_event_log` RENAME TO `event_log`;
--> statement-breakpoint
CREATE INDEX `event_log_attention_idx` ON `event_log` (`status`,`received_at`) WHERE status NOT IN ('applied', 'ignored');
--> statement-breakpoint
CREATE INDEX `event_log_stored_subject_idx` ON `event_log` (`provider`,`subject`) WHERE message IS NOT NULL OR delivery IS NOT NULL;
--> statement-breakpoint
-- 3. users: lookups are by non-null keys, so rows without a userName or email enter no index; one
--    index serves an organization's users and a directory's.
DROP INDEX `users_directory_idx`;
--> statement-breakpoint
DROP INDEX `users_email_key_idx`;
--> statement-breakpoint
DROP INDEX `users_user_name_key_idx`;
--> statement-breakpoint
DROP INDEX `users_organization_idx`;
--> statement-breakpoint
CREATE INDEX `users_email_key_idx` ON `users` (`email_key`) WHERE email_key IS NOT NULL;
--> statement-breakpoint
CREATE INDEX `users_user_name_key_idx` ON `users` (`provider`,`user_name_key`) WHERE user_name_key IS NOT NULL;
--> statement-breakpoint
CREATE INDEX `users_organization_idx` ON `users` (`organization_id`,`provider`,`directory_id`);
--> statement-breakpoint
-- 4. changes without AUTOINCREMENT (it writes sqlite_sequence on every insert). The triggers that
--    insert into changes are dropped while the table is rebuilt (ALTER TABLE RENAME checks every
--    trigger's references) and re-created exactly as migrations 0007 and 0009 left them.
DROP TRIGGER `changes_user_created`;
--> statement-breakpoint
DROP TRIGGER `changes_user_restored`;
--> statement-breakpoint
DROP TRIGGER `changes_user_deleted`;
--> statement-breakpoint
DROP TRIGGER `changes_user_forgotten`;
--> statement-breakpoint
DROP TRIGGER `changes_user_deactivated`;
--> statement-breakpoint
DROP TRIGGER `changes_user_reactivated`;
--> statement-breakpoint
DROP TRIGGER `changes_user_updated`;
--> statement-breakpoint
DROP TRIGGER `changes_user_roles_changed`;
--> statement-breakpoint
DROP TRIGGER `changes_group_created`;
--> statement-breakpoint
DROP TRIGGER `changes_group_restored`;
--> statement-breakpoint
DROP TRIGGER `changes_group_deleted`;
--> statement-breakpoint
DROP TRIGGER `changes_group_updated`;
--> statement-breakpoint
DROP TRIGGER `changes_member_added`;
--> statement-breakpoint
DROP TRIGGER `changes_member_removed`;
--> statement-breakpoint
CREATE TABLE `__new_changes` (
	`seq` integer PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`provider` text NOT NULL,
	`organization_id` text,
	`directory_id` text,
	`subject` text NOT NULL,
	`cause` text NOT NULL,
	`source` text NOT NULL,
	`data` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`recorded_at` integer NOT NULL
);
--> statement-breakpoint
INSERT INTO `__new_changes` (`seq`, `type`, `provider`, `organization_id`, `directory_id`, `subject`, `cause`, `source`, `data`, `occurred_at`, `recorded_at`)
SELECT `seq`, `type`, `provider`, `organization_id`, `directory_id`, `subject`, `cause`, `source`, `data`, `occurred_at`, `recorded_at` FROM `changes`;
--> statement-breakpoint
-- A feed that retention emptied kept its high-water mark only in sqlite_sequence; without
-- AUTOINCREMENT the next change would get seq 1 and readers past it would skip it. Pruning
-- deleted through the newest seq (feed_state pruned_through), so a marker row holds that number
-- until newer changes exist; readers and the relay skip it (type feed.high_water) and retention
-- prunes it like any change.
INSERT INTO `__new_changes` (`seq`, `type`, `provider`, `subject`, `cause`, `source`, `data`, `occurred_at`, `recorded_at`)
SELECT max(`value`), 'feed.high_water', '', '', '', 'system', '{}', 0, 0 FROM `feed_state`
WHERE `key` IN ('pruned_through', 'relayed_through') AND NOT EXISTS (SELECT 1 FROM `changes`)
HAVING max(`value`) > 0;
--> statement-breakpoint
DROP TABLE `changes`;
--> statement-breakpoint
ALTER TABLE `__new_changes` RENAME TO `changes`;
--> statement-breakpoint
CREATE INDEX `changes_subject_idx` ON `changes` (`provider`,`subject`);
--> statement-breakpoint
CREATE TRIGGER `changes_user_created` AFTER INSERT ON `users` FOR EACH ROW
WHEN NEW.forgotten_at IS NULL AND NEW.deleted_at IS NULL
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.created', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles), 'profile', json(NEW.profile))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_user_restored` AFTER UPDATE ON `users` FOR EACH ROW
WHEN (OLD.forgotten_at IS NOT NULL OR OLD.deleted_at IS NOT NULL) AND NEW.forgotten_at IS NULL AND NEW.deleted_at IS NULL
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.created', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles), 'profile', json(NEW.profile))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_user_deleted` AFTER UPDATE ON `users` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL AND NEW.forgotten_at IS NULL
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.deleted', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles), 'profile', json(NEW.profile))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_user_forgotten` AFTER UPDATE ON `users` FOR EACH ROW
WHEN OLD.forgotten_at IS NULL AND NEW.forgotten_at IS NOT NULL
BEGIN
  -- Erasure reaches the feed: every earlier change of this user keeps only ids.
  UPDATE changes SET data = json_object('user', json_object('id', subject)) WHERE provider = NEW.provider AND subject = NEW.external_id AND type LIKE 'user.%';
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.forgotten', NEW.provider, OLD.organization_id, OLD.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id)), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_user_deactivated` AFTER UPDATE ON `users` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL AND OLD.forgotten_at IS NULL AND NEW.forgotten_at IS NULL AND OLD.active = 1 AND NEW.active = 0
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.deactivated', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles), 'profile', json(NEW.profile))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_user_reactivated` AFTER UPDATE ON `users` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL AND OLD.forgotten_at IS NULL AND NEW.forgotten_at IS NULL AND OLD.active = 0 AND NEW.active = 1
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.reactivated', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles), 'profile', json(NEW.profile))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_user_updated` AFTER UPDATE ON `users` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL AND OLD.forgotten_at IS NULL AND NEW.forgotten_at IS NULL AND (OLD.email IS NOT NEW.email OR OLD.first_name IS NOT NEW.first_name OR OLD.last_name IS NOT NEW.last_name OR OLD.organization_id IS NOT NEW.organization_id OR (OLD.directory_id <> NEW.directory_id) OR OLD.user_name IS NOT NEW.user_name OR OLD.scim_external_id IS NOT NEW.scim_external_id OR OLD.attributes IS NOT NEW.attributes OR OLD.profile IS NOT NEW.profile)
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.updated', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles), 'profile', json(NEW.profile)), 'changed', json((SELECT json_group_array(value) FROM json_each(json_array(CASE WHEN OLD.email IS NOT NEW.email THEN 'email' END, CASE WHEN OLD.first_name IS NOT NEW.first_name THEN 'first_name' END, CASE WHEN OLD.last_name IS NOT NEW.last_name THEN 'last_name' END, CASE WHEN OLD.organization_id IS NOT NEW.organization_id THEN 'organization_id' END, CASE WHEN (OLD.directory_id <> NEW.directory_id) THEN 'directory_id' END, CASE WHEN OLD.user_name IS NOT NEW.user_name THEN 'user_name' END, CASE WHEN OLD.scim_external_id IS NOT NEW.scim_external_id THEN 'external_id' END, CASE WHEN OLD.attributes IS NOT NEW.attributes THEN 'attributes' END, CASE WHEN OLD.profile IS NOT NEW.profile THEN 'profile' END)) WHERE value IS NOT NULL))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_user_roles_changed` AFTER UPDATE ON `users` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL AND OLD.forgotten_at IS NULL AND NEW.forgotten_at IS NULL AND OLD.provider_roles IS NOT NEW.provider_roles
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.roles_changed', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id), 'before', json(OLD.provider_roles), 'after', json(NEW.provider_roles)), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_group_created` AFTER INSERT ON `groups` FOR EACH ROW
WHEN NEW.deleted_at IS NULL
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('group.created', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('group', json_object('id', NEW.external_id, 'name', NEW.name, 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'external_id', NEW.scim_external_id)), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_group_restored` AFTER UPDATE ON `groups` FOR EACH ROW
WHEN OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('group.created', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('group', json_object('id', NEW.external_id, 'name', NEW.name, 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'external_id', NEW.scim_external_id)), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_group_deleted` AFTER UPDATE ON `groups` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('group.deleted', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('group', json_object('id', NEW.external_id, 'name', NEW.name, 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'external_id', NEW.scim_external_id)), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_group_updated` AFTER UPDATE ON `groups` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL AND (OLD.name IS NOT NEW.name OR OLD.organization_id IS NOT NEW.organization_id OR (OLD.directory_id <> NEW.directory_id) OR OLD.scim_external_id IS NOT NEW.scim_external_id)
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('group.updated', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('group', json_object('id', NEW.external_id, 'name', NEW.name, 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'external_id', NEW.scim_external_id), 'changed', json((SELECT json_group_array(value) FROM json_each(json_array(CASE WHEN OLD.name IS NOT NEW.name THEN 'name' END, CASE WHEN OLD.organization_id IS NOT NEW.organization_id THEN 'organization_id' END, CASE WHEN (OLD.directory_id <> NEW.directory_id) THEN 'directory_id' END, CASE WHEN OLD.scim_external_id IS NOT NEW.scim_external_id THEN 'external_id' END)) WHERE value IS NOT NULL))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_member_added` AFTER INSERT ON `group_members` FOR EACH ROW
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('group.member_added', NEW.provider, (SELECT g.organization_id FROM groups AS g WHERE g.provider = NEW.provider AND g.external_id = NEW.group_external_id AND g.organization_id = (SELECT u.organization_id FROM users AS u WHERE u.provider = NEW.provider AND u.external_id = NEW.user_external_id)), (SELECT g.directory_id FROM groups AS g WHERE g.provider = NEW.provider AND g.external_id = NEW.group_external_id), NEW.user_external_id, substr(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = NEW.provider AND v.group_external_id = NEW.group_external_id AND v.user_external_id = NEW.user_external_id), ''), instr(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = NEW.provider AND v.group_external_id = NEW.group_external_id AND v.user_external_id = NEW.user_external_id), ''), '|') + 1), CASE WHEN substr(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = NEW.provider AND v.group_external_id = NEW.group_external_id AND v.user_external_id = NEW.user_external_id), ''), instr(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = NEW.provider AND v.group_external_id = NEW.group_external_id AND v.user_external_id = NEW.user_external_id), ''), '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = NEW.provider AND v.group_external_id = NEW.group_external_id AND v.user_external_id = NEW.user_external_id), ''), instr(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = NEW.provider AND v.group_external_id = NEW.group_external_id AND v.user_external_id = NEW.user_external_id), ''), '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('group', json_object('id', NEW.group_external_id), 'user', json_object('id', NEW.user_external_id)), CASE WHEN coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = NEW.provider AND v.group_external_id = NEW.group_external_id AND v.user_external_id = NEW.user_external_id), '') GLOB '[0-9]*' THEN CAST(substr(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = NEW.provider AND v.group_external_id = NEW.group_external_id AND v.user_external_id = NEW.user_external_id), ''), 1, 15) AS INTEGER) ELSE CAST(unixepoch('subsec') * 1000 AS INTEGER) END, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_member_removed` AFTER DELETE ON `group_members` FOR EACH ROW
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('group.member_removed', OLD.provider, (SELECT g.organization_id FROM groups AS g WHERE g.provider = OLD.provider AND g.external_id = OLD.group_external_id AND g.organization_id = (SELECT u.organization_id FROM users AS u WHERE u.provider = OLD.provider AND u.external_id = OLD.user_external_id)), (SELECT g.directory_id FROM groups AS g WHERE g.provider = OLD.provider AND g.external_id = OLD.group_external_id), OLD.user_external_id, substr(max(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = OLD.provider AND v.group_external_id = OLD.group_external_id AND v.user_external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'user' AND x.external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'group' AND x.external_id = OLD.group_external_id), '')), instr(max(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = OLD.provider AND v.group_external_id = OLD.group_external_id AND v.user_external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'user' AND x.external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'group' AND x.external_id = OLD.group_external_id), '')), '|') + 1), CASE WHEN substr(max(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = OLD.provider AND v.group_external_id = OLD.group_external_id AND v.user_external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'user' AND x.external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'group' AND x.external_id = OLD.group_external_id), '')), instr(max(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = OLD.provider AND v.group_external_id = OLD.group_external_id AND v.user_external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'user' AND x.external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'group' AND x.external_id = OLD.group_external_id), '')), '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(max(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = OLD.provider AND v.group_external_id = OLD.group_external_id AND v.user_external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'user' AND x.external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'group' AND x.external_id = OLD.group_external_id), '')), instr(max(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = OLD.provider AND v.group_external_id = OLD.group_external_id AND v.user_external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'user' AND x.external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'group' AND x.external_id = OLD.group_external_id), '')), '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('group', json_object('id', OLD.group_external_id), 'user', json_object('id', OLD.user_external_id)), CASE WHEN max(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = OLD.provider AND v.group_external_id = OLD.group_external_id AND v.user_external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'user' AND x.external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'group' AND x.external_id = OLD.group_external_id), '')) GLOB '[0-9]*' THEN CAST(substr(max(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = OLD.provider AND v.group_external_id = OLD.group_external_id AND v.user_external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'user' AND x.external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'group' AND x.external_id = OLD.group_external_id), '')), 1, 15) AS INTEGER) ELSE CAST(unixepoch('subsec') * 1000 AS INTEGER) END, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
