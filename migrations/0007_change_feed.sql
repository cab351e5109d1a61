CREATE TABLE `change_deliveries` (
	`seq` integer PRIMARY KEY NOT NULL,
	`subject_key` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_status` integer,
	`last_error` text,
	`updated_at` integer NOT NULL,
	`delivered_at` integer,
	`next_attempt_at` integer,
	`lease_until` integer
);
--> statement-breakpoint
CREATE INDEX `change_deliveries_pending_idx` ON `change_deliveries` (`subject_key`,`seq`) WHERE status = 'pending';--> statement-breakpoint
CREATE TABLE `changes` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
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
CREATE INDEX `changes_subject_idx` ON `changes` (`provider`,`subject`);--> statement-breakpoint
CREATE TABLE `feed_state` (
	`key` text PRIMARY KEY NOT NULL,
	`value` integer,
	`note` text
);
--> statement-breakpoint
CREATE INDEX `users_directory_idx` ON `users` (`provider`,`directory_id`);--> statement-breakpoint
-- Hand-written: the triggers that record every effective change to the directory in `changes`
-- (src/directory/schema.ts, "changes"). Each fires only when the row really changed.
-- A membership change belongs to an organization only when its group and its user both do: an
-- organization-scoped reader never sees another organization's (or no organization's) user id.
-- A directory id appearing where there was none (a webhook lacks it, a listing has it) is not an
-- update: only a change from one directory to another is.
CREATE TRIGGER `changes_user_created` AFTER INSERT ON `users` FOR EACH ROW
WHEN NEW.forgotten_at IS NULL AND NEW.deleted_at IS NULL
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.created', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_user_restored` AFTER UPDATE ON `users` FOR EACH ROW
WHEN (OLD.forgotten_at IS NOT NULL OR OLD.deleted_at IS NOT NULL) AND NEW.forgotten_at IS NULL AND NEW.deleted_at IS NULL
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.created', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_user_deleted` AFTER UPDATE ON `users` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL AND NEW.forgotten_at IS NULL
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.deleted', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
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
  VALUES ('user.deactivated', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_user_reactivated` AFTER UPDATE ON `users` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL AND OLD.forgotten_at IS NULL AND NEW.forgotten_at IS NULL AND OLD.active = 0 AND NEW.active = 1
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.reactivated', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_user_updated` AFTER UPDATE ON `users` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL AND OLD.forgotten_at IS NULL AND NEW.forgotten_at IS NULL AND (OLD.email IS NOT NEW.email OR OLD.first_name IS NOT NEW.first_name OR OLD.last_name IS NOT NEW.last_name OR OLD.organization_id IS NOT NEW.organization_id OR (OLD.directory_id <> NEW.directory_id) OR OLD.user_name IS NOT NEW.user_name OR OLD.scim_external_id IS NOT NEW.scim_external_id OR OLD.attributes IS NOT NEW.attributes)
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.updated', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles)), 'changed', json((SELECT json_group_array(value) FROM json_each(json_array(CASE WHEN OLD.email IS NOT NEW.email THEN 'email' END, CASE WHEN OLD.first_name IS NOT NEW.first_name THEN 'first_name' END, CASE WHEN OLD.last_name IS NOT NEW.last_name THEN 'last_name' END, CASE WHEN OLD.organization_id IS NOT NEW.organization_id THEN 'organization_id' END, CASE WHEN (OLD.directory_id <> NEW.directory_id) THEN 'directory_id' END, CASE WHEN OLD.user_name IS NOT NEW.user_name THEN 'user_name' END, CASE WHEN OLD.scim_external_id IS NOT NEW.scim_external_id THEN 'external_id' END, CASE WHEN OLD.attributes IS NOT NEW.attributes THEN 'attributes' END)) WHERE value IS NOT NULL))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
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
  VALUES ('group.created', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('group', json_object('id', NEW.external_id, 'name', NEW.name, 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id)), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_group_restored` AFTER UPDATE ON `groups` FOR EACH ROW
WHEN OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('group.created', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('group', json_object('id', NEW.external_id, 'name', NEW.name, 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id)), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_group_deleted` AFTER UPDATE ON `groups` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('group.deleted', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('group', json_object('id', NEW.external_id, 'name', NEW.name, 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id)), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_group_updated` AFTER UPDATE ON `groups` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL AND (OLD.name IS NOT NEW.name OR OLD.organization_id IS NOT NEW.organization_id OR (OLD.directory_id <> NEW.directory_id))
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('group.updated', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('group', json_object('id', NEW.external_id, 'name', NEW.name, 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id), 'changed', json((SELECT json_group_array(value) FROM json_each(json_array(CASE WHEN OLD.name IS NOT NEW.name THEN 'name' END, CASE WHEN OLD.organization_id IS NOT NEW.organization_id THEN 'organization_id' END, CASE WHEN (OLD.directory_id <> NEW.directory_id) THEN 'directory_id' END)) WHERE value IS NOT NULL))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
CREATE TRIGGER `changes_member_added` AFTER INSERT ON `group_members` FOR EACH ROW
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('group.member_added', NEW.provider, (SELECT g.organization_id FROM groups AS g WHERE g.provider = NEW.provider AND g.external_id = NEW.group_external_id AND g.organization_id = (SELECT u.organization_id FROM users AS u WHERE u.provider = NEW.provider AND u.external_id = NEW.user_external_id)), (SELECT g.directory_id FROM groups AS g WHERE g.provider = NEW.provider AND g.external_id = NEW.group_external_id), NEW.user_external_id, substr(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = NEW.provider AND v.group_external_id = NEW.group_external_id AND v.user_external_id = NEW.user_external_id), ''), instr(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = NEW.provider AND v.group_external_id = NEW.group_external_id AND v.user_external_id = NEW.user_external_id), ''), '|') + 1), CASE WHEN substr(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = NEW.provider AND v.group_external_id = NEW.group_external_id AND v.user_external_id = NEW.user_external_id), ''), instr(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = NEW.provider AND v.group_external_id = NEW.group_external_id AND v.user_external_id = NEW.user_external_id), ''), '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = NEW.provider AND v.group_external_id = NEW.group_external_id AND v.user_external_id = NEW.user_external_id), ''), instr(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = NEW.provider AND v.group_external_id = NEW.group_external_id AND v.user_external_id = NEW.user_external_id), ''), '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('group', json_object('id', NEW.group_external_id), 'user', json_object('id', NEW.user_external_id)), CASE WHEN coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = NEW.provider AND v.group_external_id = NEW.group_external_id AND v.user_external_id = NEW.user_external_id), '') GLOB '[0-9]*' THEN CAST(substr(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = NEW.provider AND v.group_external_id = NEW.group_external_id AND v.user_external_id = NEW.user_external_id), ''), 1, 15) AS INTEGER) ELSE CAST(unixepoch('subsec') * 1000 AS INTEGER) END, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
-- A removal's cause is the newest of the pair's own event and the user's or group's membership
-- reset (a user event's group set, a delete, an erasure).
CREATE TRIGGER `changes_member_removed` AFTER DELETE ON `group_members` FOR EACH ROW
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('group.member_removed', OLD.provider, (SELECT g.organization_id FROM groups AS g WHERE g.provider = OLD.provider AND g.external_id = OLD.group_external_id AND g.organization_id = (SELECT u.organization_id FROM users AS u WHERE u.provider = OLD.provider AND u.external_id = OLD.user_external_id)), (SELECT g.directory_id FROM groups AS g WHERE g.provider = OLD.provider AND g.external_id = OLD.group_external_id), OLD.user_external_id, substr(max(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = OLD.provider AND v.group_external_id = OLD.group_external_id AND v.user_external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'user' AND x.external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'group' AND x.external_id = OLD.group_external_id), '')), instr(max(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = OLD.provider AND v.group_external_id = OLD.group_external_id AND v.user_external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'user' AND x.external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'group' AND x.external_id = OLD.group_external_id), '')), '|') + 1), CASE WHEN substr(max(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = OLD.provider AND v.group_external_id = OLD.group_external_id AND v.user_external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'user' AND x.external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'group' AND x.external_id = OLD.group_external_id), '')), instr(max(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = OLD.provider AND v.group_external_id = OLD.group_external_id AND v.user_external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'user' AND x.external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'group' AND x.external_id = OLD.group_external_id), '')), '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(max(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = OLD.provider AND v.group_external_id = OLD.group_external_id AND v.user_external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'user' AND x.external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'group' AND x.external_id = OLD.group_external_id), '')), instr(max(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = OLD.provider AND v.group_external_id = OLD.group_external_id AND v.user_external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'user' AND x.external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'group' AND x.external_id = OLD.group_external_id), '')), '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('group', json_object('id', OLD.group_external_id), 'user', json_object('id', OLD.user_external_id)), CASE WHEN max(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = OLD.provider AND v.group_external_id = OLD.group_external_id AND v.user_external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'user' AND x.external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'group' AND x.external_id = OLD.group_external_id), '')) GLOB '[0-9]*' THEN CAST(substr(max(coalesce((SELECT v.last_event_version FROM membership_versions AS v WHERE v.provider = OLD.provider AND v.group_external_id = OLD.group_external_id AND v.user_external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'user' AND x.external_id = OLD.user_external_id), ''), coalesce((SELECT x.version FROM membership_resets AS x WHERE x.provider = OLD.provider AND x.subject = 'group' AND x.external_id = OLD.group_external_id), '')), 1, 15) AS INTEGER) ELSE CAST(unixepoch('subsec') * 1000 AS INTEGER) END, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
