import type { EventRow } from "../../consumer/operator-reads";
import { eventStatuses, type EventStatus } from "../../directory/schema";
import { CsrfField, Layout, type LayoutSession, type Notice } from "./layout";
import { count, eventPath, StatusCell, Time } from "./format";
import { Pager } from "./pager";

/** The filter as the form shows it back (the raw `datetime-local` values, UTC). */
export interface EventFilterValues {
  status?: EventStatus;
  provider?: string;
  type?: string;
  from?: string;
  to?: string;
}

export interface EventLogProps {
  session: LayoutSession;
  filters: EventFilterValues;
  rows: EventRow[];
  /** Href of the next page, or null on the last. */
  nextHref: string | null;
  /** Set when this listing walks keys a window at a time: at most this many per page. */
  scanWindow: number | null;
  /** Newest first (events that need attention), or key order (everything else). */
  order: "newest" | "key";
  pageSize: number;
  /** Provider names to suggest in the filter (registered webhook providers). */
  knownProviders: string[];
  /** This page continues an earlier one (a cursor was given). */
  continued: boolean;
}

export function EventLogPage(props: EventLogProps) {
  const { filters } = props;
  return (
    <Layout title="Event log" session={props.session} active="events">
      <form id="event-filter" method="get" action="/admin/console/events" class="filters">
        <label>
          Status{" "}
          <select name="status">
            <option value="">any</option>
            {eventStatuses.map((status) => (
              <option value={status} selected={filters.status === status}>
                {status}
              </option>
            ))}
          </select>
        </label>{" "}
        <label>
          Provider <input name="provider" value={filters.provider ?? ""} list="known-providers" maxlength={64} size={12} />
        </label>
        <datalist id="known-providers">
          {props.knownProviders.map((name) => (
            <option value={name} />
          ))}
        </datalist>{" "}
        <label>
          Type <input name="type" value={filters.type ?? ""} maxlength={256} size={18} placeholder="e.g. user.updated" />
        </label>{" "}
        <label>
          Received from (UTC) <input type="datetime-local" name="from" value={filters.from ?? ""} step={1} />
        </label>{" "}
        <label>
          to (UTC, not included) <input type="datetime-local" name="to" value={filters.to ?? ""} step={1} />
        </label>{" "}
        <button type="submit" class="primary">
          Filter
        </button>{" "}
        <a href="/admin/console/events">Clear</a>
      </form>
      <p class="hint" data-testid="event-order">
        {props.order === "newest"
          ? "Newest first."
          : "In (provider, event id) order: no index orders applied or ignored events by time, so filter by status to see failures newest first."}{" "}
        {props.scanWindow !== null
          ? `Each page scanned at most ${count(props.scanWindow)} keys of the log and shows the matches among them, so a page can hold fewer than ${props.pageSize} events, or none, while “Next page” says there are more.`
          : null}{" "}
        Times are UTC.
      </p>
      <table data-testid="events">
        <thead>
          <tr>
            <th>Provider</th>
            <th>Event id</th>
            <th>Type</th>
            <th>Status</th>
            <th>Reason</th>
            <th>Received at</th>
            <th class="num">Attempts</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr data-testid="event-row" data-provider={row.provider} data-event-id={row.eventId}>
              <td>{row.provider}</td>
              <td>
                <a href={eventPath(row.provider, row.eventId)}>{row.eventId}</a>
              </td>
              <td>{row.sourceType}</td>
              <StatusCell status={row.status} />
              <td>{row.reason ?? ""}</td>
              <td>
                <Time ms={row.receivedAt} />
              </td>
              <td class="num">{row.attempts}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.rows.length === 0 ? <p class="muted">{props.nextHref ? "No matching events among the keys this page scanned." : "No matching events."}</p> : null}
      <Pager firstHref={firstPageHref(filters)} continued={Boolean(props.continued)} nextHref={props.nextHref} />
    </Layout>
  );
}

/** The listing's first page with the same filters. */
export function firstPageHref(filters: EventFilterValues): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) if (value) query.set(name, value);
  const text = query.toString();
  return `/admin/console/events${text ? `?${text}` : ""}`;
}

export interface EventDetailProps {
  session: LayoutSession;
  row: EventRow;
  notice: Notice | null;
  /** The JSON API would replay it (same rule, src/operator/replay.ts). */
  replayable: boolean;
  /** The stored queue message and delivery, pretty-printed; only for admins (as only admins read GET /admin/events/:id). */
  stored: { message: string | null; delivery: string | null } | null;
}

export function EventDetailPage({ session, row, notice, replayable, stored }: EventDetailProps) {
  const fields: [string, unknown][] = [
    ["Provider", row.provider],
    ["Event id", row.eventId],
    ["Type", row.sourceType],
    ["Status", row.status],
    ["Reason", row.reason],
    ["Attempts", row.attempts],
    ["Subject", row.subject],
    ["Occurred at (UTC)", <Time ms={row.occurredAt} />],
    ["Received at (UTC)", <Time ms={row.receivedAt} />],
    ["Updated at (UTC)", <Time ms={row.updatedAt} />],
    ["Upstream first said absent (UTC)", <Time ms={row.absentSince} />],
  ];
  return (
    <Layout title="Event" session={session} active="events" notice={notice}>
      <p>
        <a href="/admin/console/events">← Event log</a>
      </p>
      <table class="fields" data-testid="event-detail">
        <tbody>
          {fields.map(([label, value]) => (
            <tr>
              <th scope="row">{label}</th>
              {label === "Status" ? <StatusCell status={row.status} /> : <td>{value === null || value === undefined ? <span class="muted">—</span> : value}</td>}
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Error</h2>
      {row.error ? (
        <pre class="error-text" data-testid="event-error">
          {row.error}
        </pre>
      ) : (
        <p class="muted">No error recorded.</p>
      )}
      {replayable ? (
        session.role === "admin" ? (
          <form method="post" action={`${eventPath(row.provider, row.eventId)}/replay`} data-confirm="Replay this event?">
            <CsrfField session={session} />
            <button type="submit" class="primary" data-testid="replay">
              Replay
            </button>{" "}
            <span class="hint">
              {row.status === "quarantined" || row.status === "rejected"
                ? "Re-parses the stored delivery with the adapter deployed now and queues what it yields."
                : "Puts the stored message back on the Queue; the event log still decides whether it has any effect."}
            </span>
          </form>
        ) : (
          <p class="hint">Replayable by an admin.</p>
        )
      ) : null}
      <StoredPayloads stored={stored} hasMessage={row.message !== null} hasDelivery={row.delivery !== null} />
    </Layout>
  );
}

function StoredPayloads({ stored, hasMessage, hasDelivery }: { stored: EventDetailProps["stored"]; hasMessage: boolean; hasDelivery: boolean }) {
  if (!hasMessage && !hasDelivery) return null;
  if (stored === null) return <p class="hint">A stored {hasMessage ? "message" : "delivery"} is kept for replay; admins can read it here.</p>;
  return (
    <>
      {stored.message !== null ? (
        <details class="data">
          <summary>Stored queue message</summary>
          <pre data-testid="event-message">{stored.message}</pre>
        </details>
      ) : null}
      {stored.delivery !== null ? (
        <details class="data">
          <summary>Stored delivery</summary>
          <pre data-testid="event-delivery">{stored.delivery}</pre>
        </details>
      ) : null}
    </>
  );
}
