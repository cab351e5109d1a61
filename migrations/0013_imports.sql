CREATE TABLE `imports` (
	`id` text PRIMARY KEY NOT NULL,
	`provider` text NOT NULL,
	`organization_id` text NOT NULL,
	`directory_id` text,
	`format` text NOT NULL,
	`status` text NOT NULL,
	`idempotency_key` text,
	`request_hash` text NOT NULL,
	`rows_total` integer NOT NULL,
	`rows_valid` integer NOT NULL,
	`rows_invalid` integer NOT NULL,
	`chunks_total` integer NOT NULL,
	`chunks_queued` integer NOT NULL,
	`applied` integer DEFAULT 0 NOT NULL,
	`ignored` integer DEFAULT 0 NOT NULL,
	`held` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`dead_lettered` integer DEFAULT 0 NOT NULL,
	`errors` text,
	`errors_pruned_at` integer,
	`note` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `imports_idempotency_key_idx` ON `imports` (`idempotency_key`) WHERE idempotency_key IS NOT NULL;--> statement-breakpoint
CREATE INDEX `imports_provider_idx` ON `imports` (`provider`,`organization_id`);--> statement-breakpoint
CREATE INDEX `imports_created_idx` ON `imports` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `imports_errors_idx` ON `imports` (`finished_at`) WHERE errors IS NOT NULL;
