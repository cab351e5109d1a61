CREATE TABLE `membership_resets` (
	`provider` text NOT NULL,
	`subject` text NOT NULL,
	`external_id` text NOT NULL,
	`version` text NOT NULL,
	PRIMARY KEY(`provider`, `subject`, `external_id`)
);
--> statement-breakpoint
CREATE TABLE `membership_versions` (
	`provider` text NOT NULL,
	`group_external_id` text NOT NULL,
	`user_external_id` text NOT NULL,
	`added_at` integer,
	`removed_at` integer,
	`last_event_version` text NOT NULL,
	PRIMARY KEY(`provider`, `group_external_id`, `user_external_id`)
);
--> statement-breakpoint
CREATE INDEX `membership_versions_user_idx` ON `membership_versions` (`provider`,`user_external_id`);--> statement-breakpoint
-- Data: every pair's ordering state (members and removed tombstones alike) moves to
-- membership_versions, each delete's reset version to membership_resets; group_members keeps
-- only current members. Runs before the columns it reads are dropped.
INSERT INTO `membership_versions` (`provider`, `group_external_id`, `user_external_id`, `added_at`, `removed_at`, `last_event_version`) SELECT `provider`, `group_external_id`, `user_external_id`, `added_at`, `removed_at`, `last_event_version` FROM `group_members`;--> statement-breakpoint
INSERT INTO `membership_resets` (`provider`, `subject`, `external_id`, `version`) SELECT `provider`, 'user', `external_id`, `memberships_reset_version` FROM `users` WHERE `memberships_reset_version` IS NOT NULL;--> statement-breakpoint
INSERT INTO `membership_resets` (`provider`, `subject`, `external_id`, `version`) SELECT `provider`, 'group', `external_id`, `memberships_reset_version` FROM `groups` WHERE `memberships_reset_version` IS NOT NULL;--> statement-breakpoint
DELETE FROM `group_members` WHERE `removed_at` IS NOT NULL;--> statement-breakpoint
ALTER TABLE `group_members` DROP COLUMN `removed_at`;--> statement-breakpoint
ALTER TABLE `group_members` DROP COLUMN `last_event_version`;--> statement-breakpoint
ALTER TABLE `groups` DROP COLUMN `memberships_reset_version`;--> statement-breakpoint
ALTER TABLE `users` DROP COLUMN `memberships_reset_version`;