import type { DeadLetterListRow } from "../../operator/reads";
import { CsrfField, Layout, type LayoutSession, type Notice } from "./layout";
import { eventPath, StatusCell, Time } from "./format";
import { Pager } from "./pager";

export interface DeadLettersProps {
  session: LayoutSession;
  rows: DeadLetterListRow[];
  notice: Notice | null;
  nextHref: string | null;
  continued: boolean;
  /** How many one "Replay selected" may carry. */
  maxPerReplay: number;
}

/**
 * Dead letters, newest first, with their event's status now (applied once a replay went through).
 * One form holds the checkboxes and both kinds of button: "Replay selected" submits every checked
 * `id`; a row's own button submits `id` = that row only (a submit button's name/value pair is sent
 * with the form, and the handler takes it alone when present).
 */
export function DeadLettersPage(props: DeadLettersProps) {
  const admin = props.session.role === "admin";
  const table = (
    <table data-testid="dead-letters">
      <thead>
        <tr>
          {admin ? (
            <th>
              <label hidden>
                <input type="checkbox" data-select-all="id" hidden /> <span class="visually-hidden">Select all</span>
              </label>
            </th>
          ) : null}
          <th>Message id</th>
          <th>Kind</th>
          <th>Provider</th>
          <th>Event id</th>
          <th>Recorded at (UTC)</th>
          <th>Event status now</th>
          {admin ? <th></th> : null}
        </tr>
      </thead>
      <tbody>
        {props.rows.map((row) => (
          <tr data-testid="dead-letter-row" data-message-id={row.messageId}>
            {admin ? (
              <td>
                <input type="checkbox" name="id" value={row.messageId} aria-label={`Select ${row.messageId}`} />
              </td>
            ) : null}
            <td>
              <code>{row.messageId}</code>
            </td>
            <td>{row.kind ?? <span class="muted">undecodable</span>}</td>
            <td>{row.provider ?? ""}</td>
            <td>{row.provider !== null && row.eventId !== null ? <a href={eventPath(row.provider, row.eventId)}>{row.eventId}</a> : ""}</td>
            <td>
              <Time ms={row.recordedAt} />
            </td>
            <StatusCell status={row.eventStatus} />
            {admin ? (
              <td>
                <button type="submit" name="only" value={row.messageId} data-testid="replay-one">
                  Replay
                </button>
              </td>
            ) : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
  return (
    <Layout title="Dead letters" session={props.session} active="dead-letters" notice={props.notice}>
      <p class="hint">
        Messages the Queue gave up on after its retries, newest first. A replay puts the message back on the Queue exactly as first enqueued; the event log still
        decides whether it has any effect, so replaying twice is harmless. The status column is the event's status now: <code>applied</code> once a replay went
        through.
      </p>
      {props.rows.length === 0 ? <p class="muted">No dead letters.</p> : null}
      {admin && props.rows.length > 0 ? (
        <form id="dead-letters-form" method="post" action="/admin/console/dead-letters/replay" data-confirm="Replay these dead letters?">
          <CsrfField session={props.session} />
          {table}
          <p>
            <button type="submit" class="primary" data-testid="replay-selected">
              Replay selected
            </button>{" "}
            <span class="hint">At most {props.maxPerReplay} at a time.</span>
          </p>
        </form>
      ) : props.rows.length > 0 ? (
        table
      ) : null}
      <Pager firstHref={"/admin/console/dead-letters"} continued={Boolean(props.continued)} nextHref={props.nextHref} />
    </Layout>
  );
}
