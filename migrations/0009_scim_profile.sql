ALTER TABLE `groups` ADD `scim_external_id` text;--> statement-breakpoint
CREATE INDEX `groups_scim_external_id_idx` ON `groups` (`provider`,`scim_external_id`);--> statement-breakpoint
ALTER TABLE `users` ADD `profile` text;--> statement-breakpoint
-- Hand-written: the change-feed triggers of migration 0007 that carry a user's or a group's data,
-- re-created (same names, same SQL) so the feed also carries `profile` (and announces
-- `user.updated` with changed ["profile"] when only it changes) and a group's `external_id`.
DROP TRIGGER `changes_user_created`;
--> statement-breakpoint
CREATE TRIGGER `changes_user_created` AFTER INSERT ON `users` FOR EACH ROW
WHEN NEW.forgotten_at IS NULL AND NEW.deleted_at IS NULL
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.created', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles), 'profile', json(NEW.profile))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
DROP TRIGGER `changes_user_restored`;
--> statement-breakpoint
CREATE TRIGGER `changes_user_restored` AFTER UPDATE ON `users` FOR EACH ROW
WHEN (OLD.forgotten_at IS NOT NULL OR OLD.deleted_at IS NOT NULL) AND NEW.forgotten_at IS NULL AND NEW.deleted_at IS NULL
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.created', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles), 'profile', json(NEW.profile))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
DROP TRIGGER `changes_user_deleted`;
--> statement-breakpoint
CREATE TRIGGER `changes_user_deleted` AFTER UPDATE ON `users` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL AND NEW.forgotten_at IS NULL
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.deleted', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles), 'profile', json(NEW.profile))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
DROP TRIGGER `changes_user_deactivated`;
--> statement-breakpoint
CREATE TRIGGER `changes_user_deactivated` AFTER UPDATE ON `users` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL AND OLD.forgotten_at IS NULL AND NEW.forgotten_at IS NULL AND OLD.active = 1 AND NEW.active = 0
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.deactivated', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles), 'profile', json(NEW.profile))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
DROP TRIGGER `changes_user_reactivated`;
--> statement-breakpoint
CREATE TRIGGER `changes_user_reactivated` AFTER UPDATE ON `users` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL AND OLD.forgotten_at IS NULL AND NEW.forgotten_at IS NULL AND OLD.active = 0 AND NEW.active = 1
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.reactivated', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles), 'profile', json(NEW.profile))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
DROP TRIGGER `changes_user_updated`;
--> statement-breakpoint
CREATE TRIGGER `changes_user_updated` AFTER UPDATE ON `users` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL AND OLD.forgotten_at IS NULL AND NEW.forgotten_at IS NULL AND (OLD.email IS NOT NEW.email OR OLD.first_name IS NOT NEW.first_name OR OLD.last_name IS NOT NEW.last_name OR OLD.organization_id IS NOT NEW.organization_id OR (OLD.directory_id <> NEW.directory_id) OR OLD.user_name IS NOT NEW.user_name OR OLD.scim_external_id IS NOT NEW.scim_external_id OR OLD.attributes IS NOT NEW.attributes OR OLD.profile IS NOT NEW.profile)
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('user.updated', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('user', json_object('id', NEW.external_id, 'email', NEW.email, 'first_name', NEW.first_name, 'last_name', NEW.last_name, 'active', json(CASE WHEN NEW.active THEN 'true' ELSE 'false' END), 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'user_name', NEW.user_name, 'external_id', NEW.scim_external_id, 'attributes', json(NEW.attributes), 'provider_roles', json(NEW.provider_roles), 'profile', json(NEW.profile)), 'changed', json((SELECT json_group_array(value) FROM json_each(json_array(CASE WHEN OLD.email IS NOT NEW.email THEN 'email' END, CASE WHEN OLD.first_name IS NOT NEW.first_name THEN 'first_name' END, CASE WHEN OLD.last_name IS NOT NEW.last_name THEN 'last_name' END, CASE WHEN OLD.organization_id IS NOT NEW.organization_id THEN 'organization_id' END, CASE WHEN (OLD.directory_id <> NEW.directory_id) THEN 'directory_id' END, CASE WHEN OLD.user_name IS NOT NEW.user_name THEN 'user_name' END, CASE WHEN OLD.scim_external_id IS NOT NEW.scim_external_id THEN 'external_id' END, CASE WHEN OLD.attributes IS NOT NEW.attributes THEN 'attributes' END, CASE WHEN OLD.profile IS NOT NEW.profile THEN 'profile' END)) WHERE value IS NOT NULL))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
DROP TRIGGER `changes_group_created`;
--> statement-breakpoint
CREATE TRIGGER `changes_group_created` AFTER INSERT ON `groups` FOR EACH ROW
WHEN NEW.deleted_at IS NULL
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('group.created', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('group', json_object('id', NEW.external_id, 'name', NEW.name, 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'external_id', NEW.scim_external_id)), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
DROP TRIGGER `changes_group_restored`;
--> statement-breakpoint
CREATE TRIGGER `changes_group_restored` AFTER UPDATE ON `groups` FOR EACH ROW
WHEN OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('group.created', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('group', json_object('id', NEW.external_id, 'name', NEW.name, 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'external_id', NEW.scim_external_id)), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
DROP TRIGGER `changes_group_deleted`;
--> statement-breakpoint
CREATE TRIGGER `changes_group_deleted` AFTER UPDATE ON `groups` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('group.deleted', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('group', json_object('id', NEW.external_id, 'name', NEW.name, 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'external_id', NEW.scim_external_id)), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
--> statement-breakpoint
DROP TRIGGER `changes_group_updated`;
--> statement-breakpoint
CREATE TRIGGER `changes_group_updated` AFTER UPDATE ON `groups` FOR EACH ROW
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL AND (OLD.name IS NOT NEW.name OR OLD.organization_id IS NOT NEW.organization_id OR (OLD.directory_id <> NEW.directory_id) OR OLD.scim_external_id IS NOT NEW.scim_external_id)
BEGIN
  INSERT INTO changes (type, provider, organization_id, directory_id, subject, cause, source, data, occurred_at, recorded_at)
  VALUES ('group.updated', NEW.provider, NEW.organization_id, NEW.directory_id, NEW.external_id, substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1), CASE WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'reconcile:%' THEN 'reconcile' WHEN substr(NEW.last_event_version, instr(NEW.last_event_version, '|') + 1) LIKE 'scim:%' THEN 'scim' ELSE 'webhook' END, json_object('group', json_object('id', NEW.external_id, 'name', NEW.name, 'organization_id', NEW.organization_id, 'directory_id', NEW.directory_id, 'external_id', NEW.scim_external_id), 'changed', json((SELECT json_group_array(value) FROM json_each(json_array(CASE WHEN OLD.name IS NOT NEW.name THEN 'name' END, CASE WHEN OLD.organization_id IS NOT NEW.organization_id THEN 'organization_id' END, CASE WHEN (OLD.directory_id <> NEW.directory_id) THEN 'directory_id' END, CASE WHEN OLD.scim_external_id IS NOT NEW.scim_external_id THEN 'external_id' END)) WHERE value IS NOT NULL))), NEW.last_event_at, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
