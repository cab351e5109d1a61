/**
 * Small pieces every console page shares: times (always UTC, said so), status cells, and links
 * that carry ids safely in a path.
 */

/** A stored time (integer ms) as `2026-10-01 12:00:00 UTC`; null as an em dash. */
export function utc(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d{3}Z$/, " UTC");
}

/** A `<time>` element with the machine-readable instant and the UTC text. */
export function Time({ ms }: { ms: number | null | undefined }) {
  if (ms === null || ms === undefined) return <span class="muted">—</span>;
  return <time datetime={new Date(ms).toISOString()}>{utc(ms)}</time>;
}

/** A row's status cell: the hook tests read (`data-testid="status"`) and a class that colours it. */
export function StatusCell({ status }: { status: string | null }) {
  return (
    <td data-testid="status" class={status ? `status-${status}` : "muted"}>
      {status ?? "—"}
    </td>
  );
}

/** The console path of one event (ids can hold `/`, `?` or `#`: each segment is encoded). */
export const eventPath = (provider: string, eventId: string) => `/admin/console/events/${encodeURIComponent(provider)}/${encodeURIComponent(eventId)}`;

export const runPath = (id: string) => `/admin/console/runs/${encodeURIComponent(id)}`;

/** A number with thousands separators, e.g. 12,000. */
export const count = (n: number) => n.toLocaleString("en-US");
