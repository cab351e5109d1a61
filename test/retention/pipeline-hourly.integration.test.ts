import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { HOUR_MS, hourOf } from "../../src/consumer/pipeline-hourly";
import { ROWS_PER_STATEMENT } from "../../src/retention/limits";
import { PIPELINE_HOURLY_MAX_ROUND_TRIPS, prunePipelineHourly } from "../../src/retention/pipeline-hourly";
import { count, DAY, insertNumbered, pruneUntilDone } from "./support";

/** The console's hourly counters go after RETENTION_DAYS; the hours inside it stay. */

const RETENTION_DAYS = 30;
const now = Date.now();
const cutoff = now - RETENTION_DAYS * DAY;

describe("pipeline_hourly retention", () => {
  beforeEach(async () => {
    await env.DB.exec("DELETE FROM pipeline_hourly;");
  });

  it("deletes the hours before the cutoff, every status of them, and keeps the rest", async () => {
    const justGone = hourOf(cutoff) - HOUR_MS;
    const justKept = hourOf(cutoff) + HOUR_MS;
    await env.DB.prepare(
      `INSERT INTO pipeline_hourly (hour, status, events) VALUES
         (?1, 'applied', 10), (?1, 'failed', 2), (?2, 'applied', 5), (?3, 'applied', 7), (?3, 'dead_lettered', 1)`,
    )
      .bind(justGone, justKept, hourOf(now))
      .run();
    expect(await prunePipelineHourly(env.DB, now, RETENTION_DAYS)).toEqual({ deleted: 2 });
    expect((await env.DB.prepare("SELECT hour, status, events FROM pipeline_hourly ORDER BY hour, status").all()).results).toEqual([
      { hour: justKept, status: "applied", events: 5 },
      { hour: hourOf(now), status: "applied", events: 7 },
      { hour: hourOf(now), status: "dead_lettered", events: 1 },
    ]);
  });

  it("prunes a large backlog in bounded deletes, one round trip each, then finds nothing", async () => {
    // Three statuses an hour for ROWS_PER_STATEMENT hours past the cutoff (15,000 rows), and a day inside it.
    for (const status of ["applied", "ignored", "failed"]) {
      await insertNumbered("pipeline_hourly", "hour, status, events", `?1 - i * ${HOUR_MS}, '${status}', i`, ROWS_PER_STATEMENT, hourOf(cutoff) - HOUR_MS);
    }
    await insertNumbered("pipeline_hourly", "hour, status, events", `?1 - i * ${HOUR_MS}, 'applied', 1`, 24, hourOf(now) + HOUR_MS);
    const invocations = await pruneUntilDone((d1) => prunePipelineHourly(d1, now, RETENTION_DAYS));
    expect(invocations.map((invocation) => invocation.deleted)).toEqual([ROWS_PER_STATEMENT, ROWS_PER_STATEMENT, ROWS_PER_STATEMENT, 0]);
    for (const invocation of invocations) expect(invocation.roundTrips).toBeLessThanOrEqual(PIPELINE_HOURLY_MAX_ROUND_TRIPS);
    expect(await count("pipeline_hourly")).toBe(24);
    expect(await count("pipeline_hourly", `hour < ${cutoff}`)).toBe(0);
  });
});
