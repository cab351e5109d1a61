CREATE TABLE `reconcile_pending` (
	`run_id` text NOT NULL,
	`external_id` text NOT NULL,
	`action` text NOT NULL,
	`record` text,
	PRIMARY KEY(`run_id`, `external_id`)
);
--> statement-breakpoint
CREATE TABLE `reconcile_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`provider` text NOT NULL,
	`status` text NOT NULL,
	`phase` text NOT NULL,
	`trigger` text NOT NULL,
	`started_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer,
	`next_start_index` integer DEFAULT 1 NOT NULL,
	`sweep_after` text DEFAULT '' NOT NULL,
	`upstream_total` integer,
	`pages` integer DEFAULT 0 NOT NULL,
	`scanned` integer DEFAULT 0 NOT NULL,
	`created` integer DEFAULT 0 NOT NULL,
	`updated` integer DEFAULT 0 NOT NULL,
	`deactivated` integer DEFAULT 0 NOT NULL,
	`forgotten` integer DEFAULT 0 NOT NULL,
	`unchanged` integer DEFAULT 0 NOT NULL,
	`errors` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`note` text
);
--> statement-breakpoint
CREATE INDEX `reconcile_runs_provider_idx` ON `reconcile_runs` (`provider`,`started_at`);--> statement-breakpoint
CREATE TABLE `reconcile_seen` (
	`run_id` text NOT NULL,
	`external_id` text NOT NULL,
	PRIMARY KEY(`run_id`, `external_id`)
);
--> statement-breakpoint
ALTER TABLE `dead_letters` ADD `subject` text;--> statement-breakpoint
ALTER TABLE `event_log` ADD `subject` text;--> statement-breakpoint
CREATE INDEX `event_log_subject_idx` ON `event_log` (`provider`,`subject`);--> statement-breakpoint
ALTER TABLE `users` ADD `user_name` text;--> statement-breakpoint
ALTER TABLE `users` ADD `scim_external_id` text;--> statement-breakpoint
ALTER TABLE `users` ADD `attributes` text;--> statement-breakpoint
ALTER TABLE `users` ADD `fingerprint` text;--> statement-breakpoint
ALTER TABLE `users` ADD `forgotten_at` integer;