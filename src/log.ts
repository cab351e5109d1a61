/**
 * One structured JSON line per event. Callers pass ids and codes only: never secrets, never
 * personal data (emails, names), never raw bodies.
 */
export function log(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ event, ...fields }));
}
