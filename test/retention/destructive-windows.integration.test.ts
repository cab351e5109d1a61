import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { windowStart } from "../../src/consumer/destructive-guard";
import { DESTRUCTIVE_WINDOWS_MAX_ROUND_TRIPS, ENDED_WINDOW_MARGIN_MS, pruneDestructiveWindows } from "../../src/retention/destructive-windows";
import { ROWS_PER_STATEMENT } from "../../src/retention/limits";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";
import { count, DAY, insertNumbered, pruneUntilDone } from "./support";

/** The destructive guard's counters go a day after their window ended; the current window's stays. */

const WINDOW_MS = 3_600_000;
const now = Date.now();

describe("destructive window retention", () => {
  beforeEach(async () => {
    await env.DB.exec("DELETE FROM destructive_windows;");
  });

  it("deletes windows that ended more than the margin ago and keeps the rest, the current one included", async () => {
    const justKept = now - WINDOW_MS - ENDED_WINDOW_MARGIN_MS + 60_000;
    const justGone = now - WINDOW_MS - ENDED_WINDOW_MARGIN_MS - 60_000;
    await env.DB.prepare("INSERT INTO destructive_windows (provider, organization_id, window_start, applied) VALUES ('scalekit', 'org_old', ?1, 3), ('scalekit', 'org_kept', ?2, 3)")
      .bind(justGone, justKept)
      .run();
    // The current window's counter, written by the consumer's guard for a real deletion.
    await deliverBatch([eventMessage(events.userUpserted("dw_user", 1_000))]);
    await deliverBatch([eventMessage(events.userDeleted("dw_user", 2_000))]);
    expect(await count("destructive_windows", `window_start = ${windowStart(Date.now(), WINDOW_MS)}`)).toBe(1);

    expect(await pruneDestructiveWindows(env.DB, now, WINDOW_MS)).toEqual({ deleted: 1 });
    expect((await env.DB.prepare("SELECT organization_id FROM destructive_windows ORDER BY window_start").all()).results).toEqual([{ organization_id: "org_kept" }, { organization_id: "org_1" }]);
  });

  it("prunes more than one batch over several invocations, each within its bound, and then costs one read", async () => {
    await insertNumbered("destructive_windows", "provider, organization_id, window_start, applied", "'scalekit', 'org_' || i, ?1, 1", 2 * ROWS_PER_STATEMENT + 300, now - 10 * DAY);
    await insertNumbered("destructive_windows", "provider, organization_id, window_start, applied", "'scalekit', 'org_' || i, ?1, 1", 5, windowStart(now, WINDOW_MS));

    const invocations = await pruneUntilDone((d1) => pruneDestructiveWindows(d1, now, WINDOW_MS));
    expect(invocations.map((invocation) => invocation.deleted)).toEqual([ROWS_PER_STATEMENT, ROWS_PER_STATEMENT, 300, 0]);
    for (const invocation of invocations) expect(invocation.roundTrips).toBeLessThanOrEqual(DESTRUCTIVE_WINDOWS_MAX_ROUND_TRIPS);
    expect(invocations.at(-1)!.roundTrips).toBe(1);
    expect(await count("destructive_windows")).toBe(5);
  });
});
