ALTER TABLE `reconcile_runs` ADD `checkpoint` text;--> statement-breakpoint
ALTER TABLE `reconcile_runs` ADD `step` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `reconcile_runs` ADD `groups_changed` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `reconcile_runs` ADD `memberships_changed` integer DEFAULT 0 NOT NULL;