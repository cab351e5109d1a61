/**
 * Scalekit's `occurred_at` carries 6 to 9 fractional digits (`2024-09-25T02:26:39.036398577Z`).
 * `Date.parse` keeps milliseconds only, and bulk provisioning stamps several events for one user
 * within a millisecond, so the fraction is read here, digit for digit: milliseconds, plus the
 * nanoseconds past the millisecond (0-999999) that order those events (directory/version.ts).
 * Digits past the ninth (finer than a nanosecond) are dropped; an offset other than Z is honoured.
 */
const ISO_WITH_FRACTION = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})$/i;

export interface EventTime {
  ms: number;
  subMsNanos: number;
}

/** Null when the text is not an ISO 8601 date-time with a zone (the envelope schema checks first). */
export function parseEventTime(text: string): EventTime | null {
  const match = ISO_WITH_FRACTION.exec(text);
  if (!match) return null;
  const [, seconds, fraction = "", zone] = match;
  const offset = zone!.length === 5 ? `${zone!.slice(0, 3)}:${zone!.slice(3)}` : zone!.toUpperCase();
  const wholeSeconds = Date.parse(`${seconds}${offset}`);
  if (Number.isNaN(wholeSeconds)) return null;
  const digits = fraction.slice(0, 9).padEnd(9, "0");
  return { ms: wholeSeconds + Number(digits.slice(0, 3)), subMsNanos: Number(digits.slice(3)) };
}
