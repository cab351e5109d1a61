CREATE TABLE `scim_connections` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`name` text,
	`provider` text NOT NULL,
	`token_hash` text NOT NULL,
	`previous_token_hash` text,
	`previous_token_expires_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`disabled_at` integer,
	`last_used_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `scim_connections_provider_idx` ON `scim_connections` (`provider`);--> statement-breakpoint
CREATE INDEX `scim_connections_organization_idx` ON `scim_connections` (`organization_id`,`id`);