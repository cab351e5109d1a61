/**
 * An event's version: a string whose order is the event order, so SQL can compare versions
 * with a plain `>`. It is the provider's event time as nanoseconds since the epoch in a fixed
 * width (15 digits of milliseconds, then 6 digits of sub-millisecond nanoseconds), then `|` and
 * the event id. Providers stamp bulk provisioning within one millisecond, so the sub-millisecond
 * digits order those events by their real time; the id only breaks ties between truly equal
 * times, deterministically, so they resolve the same way whatever order they arrive in.
 *
 * Versions stored before the sub-millisecond field existed (`<15-digit ms>|<id>`) compare wrongly
 * with these (`|` sorts after digits); migration 0004 rewrote them with six zeros inserted.
 */
const MS_DIGITS = 15;
const SUB_MS_DIGITS = 6;
const MAX_SUB_MS_NANOS = 999_999;

export function eventVersion(occurredAtMs: number, eventId: string, subMsNanos = 0): string {
  if (!Number.isInteger(subMsNanos) || subMsNanos < 0 || subMsNanos > MAX_SUB_MS_NANOS) throw new RangeError("subMsNanos must be an integer in 0..999999");
  return `${String(occurredAtMs).padStart(MS_DIGITS, "0")}${String(subMsNanos).padStart(SUB_MS_DIGITS, "0")}|${eventId}`;
}

/** The version of a neutral event (events.ts), sub-millisecond part included. */
export function versionOf(event: { occurredAt: number; occurredAtNanos?: number; eventId: string }): string {
  return eventVersion(event.occurredAt, event.eventId, event.occurredAtNanos ?? 0);
}
