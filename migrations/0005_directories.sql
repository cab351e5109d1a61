CREATE TABLE `directories` (
	`provider` text NOT NULL,
	`id` text NOT NULL,
	`organization_id` text,
	`directory_type` text,
	`idp_provider` text,
	`enabled` integer,
	`status` text,
	`last_event_at` integer NOT NULL,
	`last_event_version` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`provider`, `id`)
);
--> statement-breakpoint
CREATE INDEX `directories_organization_idx` ON `directories` (`organization_id`);