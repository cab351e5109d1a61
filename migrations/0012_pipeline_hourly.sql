-- Migration 0012: events per hour by status, for the operator console's overview (issue 15).
-- event_log has no time index for applied and ignored rows (migration 0010 keeps them index-free:
-- one row written per event), so the chart reads this small counter table instead. The consumer
-- adds to it once per batch per status, in the same D1 batch as the outcomes it counts
-- (src/consumer/pipeline-hourly.ts); retention prunes hours older than RETENTION_DAYS.
CREATE TABLE `pipeline_hourly` (
	`hour` integer NOT NULL,
	`status` text NOT NULL,
	`events` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`hour`, `status`)
) WITHOUT ROWID;
