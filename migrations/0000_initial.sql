CREATE TABLE `dead_letters` (
	`message_id` text PRIMARY KEY NOT NULL,
	`provider` text,
	`event_id` text,
	`body` text NOT NULL,
	`recorded_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `dead_letters_event_idx` ON `dead_letters` (`provider`,`event_id`);--> statement-breakpoint
CREATE TABLE `event_log` (
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
	PRIMARY KEY(`provider`, `event_id`)
);
--> statement-breakpoint
CREATE INDEX `event_log_status_idx` ON `event_log` (`status`,`received_at`);--> statement-breakpoint
CREATE INDEX `event_log_received_idx` ON `event_log` (`received_at`);--> statement-breakpoint
CREATE TABLE `group_members` (
	`provider` text NOT NULL,
	`group_external_id` text NOT NULL,
	`user_external_id` text NOT NULL,
	`added_at` integer,
	`removed_at` integer,
	`last_event_version` text NOT NULL,
	PRIMARY KEY(`provider`, `group_external_id`, `user_external_id`)
);
--> statement-breakpoint
CREATE INDEX `group_members_user_idx` ON `group_members` (`provider`,`user_external_id`);--> statement-breakpoint
CREATE TABLE `groups` (
	`provider` text NOT NULL,
	`external_id` text NOT NULL,
	`name` text,
	`organization_id` text,
	`directory_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`deleted_at` integer,
	`last_event_at` integer NOT NULL,
	`last_event_version` text NOT NULL,
	`memberships_reset_version` text,
	PRIMARY KEY(`provider`, `external_id`)
);
--> statement-breakpoint
CREATE INDEX `groups_organization_idx` ON `groups` (`organization_id`);--> statement-breakpoint
CREATE TABLE `processed_events` (
	`provider` text NOT NULL,
	`event_id` text NOT NULL,
	`processed_at` integer NOT NULL,
	PRIMARY KEY(`provider`, `event_id`)
);
--> statement-breakpoint
CREATE TABLE `users` (
	`provider` text NOT NULL,
	`external_id` text NOT NULL,
	`email` text,
	`first_name` text,
	`last_name` text,
	`active` integer DEFAULT true NOT NULL,
	`organization_id` text,
	`directory_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`deleted_at` integer,
	`last_event_at` integer NOT NULL,
	`last_event_version` text NOT NULL,
	`memberships_reset_version` text,
	PRIMARY KEY(`provider`, `external_id`)
);
--> statement-breakpoint
CREATE INDEX `users_email_idx` ON `users` (`email`);--> statement-breakpoint
CREATE INDEX `users_organization_idx` ON `users` (`organization_id`);