/**
 * An event's version: a string whose order is the event order, so SQL can compare versions
 * with a plain `>`. It is the provider's event time (ms, zero-padded to a fixed width) then the
 * event id, which breaks ties deterministically: two events stamped in the same millisecond
 * resolve the same way whatever order they arrive in.
 */
const TIME_DIGITS = 15;

export function eventVersion(occurredAtMs: number, eventId: string): string {
  return `${String(occurredAtMs).padStart(TIME_DIGITS, "0")}|${eventId}`;
}
