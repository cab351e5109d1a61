CREATE TABLE `destructive_windows` (
	`provider` text NOT NULL,
	`organization_id` text DEFAULT '' NOT NULL,
	`window_start` integer NOT NULL,
	`applied` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`provider`, `organization_id`, `window_start`)
);
--> statement-breakpoint
DROP INDEX `users_email_idx`;--> statement-breakpoint
ALTER TABLE `users` ADD `user_name_key` text;--> statement-breakpoint
ALTER TABLE `users` ADD `email_key` text;--> statement-breakpoint
ALTER TABLE `users` ADD `first_name_key` text;--> statement-breakpoint
ALTER TABLE `users` ADD `last_name_key` text;--> statement-breakpoint
-- Backfill, ASCII values only: SQLite's lower() folds ASCII alone. Keys of values with other
-- characters stay NULL here and are computed by the Worker (directory/fold-backfill.ts, every cron).
UPDATE `users` SET `user_name_key` = CASE WHEN `user_name` NOT GLOB '*[^ -~]*' THEN lower(`user_name`) END, `email_key` = CASE WHEN `email` NOT GLOB '*[^ -~]*' THEN lower(`email`) END, `first_name_key` = CASE WHEN `first_name` NOT GLOB '*[^ -~]*' THEN lower(`first_name`) END, `last_name_key` = CASE WHEN `last_name` NOT GLOB '*[^ -~]*' THEN lower(`last_name`) END;--> statement-breakpoint
CREATE INDEX `users_email_key_idx` ON `users` (`email_key`);--> statement-breakpoint
CREATE INDEX `users_user_name_key_idx` ON `users` (`provider`,`user_name_key`);--> statement-breakpoint
ALTER TABLE `event_log` ADD `delivery` text;--> statement-breakpoint
ALTER TABLE `event_log` ADD `absent_since` integer;--> statement-breakpoint
ALTER TABLE `groups` ADD `name_key` text;--> statement-breakpoint
UPDATE `groups` SET `name_key` = CASE WHEN `name` NOT GLOB '*[^ -~]*' THEN lower(`name`) END;--> statement-breakpoint
CREATE INDEX `groups_name_key_idx` ON `groups` (`provider`,`name_key`);--> statement-breakpoint
ALTER TABLE `reconcile_runs` ADD `scope` text DEFAULT '' NOT NULL;--> statement-breakpoint
-- Runs that raced into running together before this index existed: keep the newest running.
UPDATE `reconcile_runs` SET `status` = 'failed', `phase` = 'done', `note` = 'Ended: another run of this provider was already running.' WHERE `status` = 'running' AND EXISTS (SELECT 1 FROM `reconcile_runs` AS `newer` WHERE `newer`.`provider` = `reconcile_runs`.`provider` AND `newer`.`status` = 'running' AND (`newer`.`started_at`, `newer`.`id`) > (`reconcile_runs`.`started_at`, `reconcile_runs`.`id`));--> statement-breakpoint
CREATE UNIQUE INDEX `reconcile_runs_one_running_idx` ON `reconcile_runs` (`provider`,`scope`) WHERE status = 'running';