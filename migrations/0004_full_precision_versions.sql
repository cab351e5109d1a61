ALTER TABLE `users` ADD `provider_roles` text;--> statement-breakpoint
-- Data: versions gain a fixed 6-digit sub-millisecond field between the 15-digit milliseconds and
-- the '|' (directory/version.ts). A stored '<ms>|<id>' would sort after every new version of the
-- same millisecond ('|' sorts after digits), so each one is rewritten as '<ms>000000|<id>', the
-- exact version it would have had. Only values still in the old shape match, so a re-run is harmless.
UPDATE `users` SET `last_event_version` = substr(`last_event_version`, 1, 15) || '000000' || substr(`last_event_version`, 16) WHERE substr(`last_event_version`, 16, 1) = '|';--> statement-breakpoint
UPDATE `groups` SET `last_event_version` = substr(`last_event_version`, 1, 15) || '000000' || substr(`last_event_version`, 16) WHERE substr(`last_event_version`, 16, 1) = '|';--> statement-breakpoint
UPDATE `membership_versions` SET `last_event_version` = substr(`last_event_version`, 1, 15) || '000000' || substr(`last_event_version`, 16) WHERE substr(`last_event_version`, 16, 1) = '|';--> statement-breakpoint
UPDATE `membership_resets` SET `version` = substr(`version`, 1, 15) || '000000' || substr(`version`, 16) WHERE substr(`version`, 16, 1) = '|';--> statement-breakpoint
-- A running reconciliation's staged deactivations carry the record to write, version included.
UPDATE `reconcile_pending` SET `record` = json_set(`record`, '$.version', substr(`record` ->> '$.version', 1, 15) || '000000' || substr(`record` ->> '$.version', 16)) WHERE json_valid(`record`) AND substr(`record` ->> '$.version', 16, 1) = '|';
