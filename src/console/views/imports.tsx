import type { ImportRecord } from "../../import/record";
import type { RowError } from "../../import/row";
import { count, StatusCell, Time } from "./format";
import { Layout, type LayoutSession } from "./layout";
import { Pager } from "./pager";

/** The console path of one import. */
export const importPath = (id: string) => `/admin/console/imports/${encodeURIComponent(id)}`;

/** Valid rows with no outcome yet. */
const pending = (row: ImportRecord) => Math.max(0, row.rowsValid - row.applied - row.ignored - row.held - row.failed - row.deadLettered);

const eventsOf = (row: ImportRecord, status: string) =>
  `/admin/console/events?${new URLSearchParams({ status, provider: row.provider, type: "import.row" }).toString()}`;

export interface ImportsProps {
  session: LayoutSession;
  imports: ImportRecord[];
  nextHref: string | null;
  continued: boolean;
}

/** Bulk imports, newest first, with their counts as last refreshed. */
export function ImportsPage(props: ImportsProps) {
  return (
    <Layout title="Imports" session={props.session} active="imports">
      <h2>Bulk imports</h2>
      <p class="hint">
        Newest first; times are UTC. Counts are as the consumer last refreshed them: open an import for its current progress and its per-line errors. Import a
        file with <code>POST /admin/import</code> or <code>npm run import -- users.csv</code>.
      </p>
      <table data-testid="imports">
        <thead>
          <tr>
            <th>Import</th>
            <th>Namespace</th>
            <th>Organization</th>
            <th>Format</th>
            <th>Status</th>
            <th>Created</th>
            <th>Finished</th>
            <th class="num">Rows</th>
            <th class="num">Invalid</th>
            <th class="num">Applied</th>
            <th class="num">Held</th>
            <th class="num">Failed</th>
            <th class="num">Pending</th>
          </tr>
        </thead>
        <tbody>
          {props.imports.map((row) => (
            <tr data-testid="import-row" data-import-id={row.id}>
              <td>
                <a href={importPath(row.id)}>
                  <code>{row.id}</code>
                </a>
              </td>
              <td>{row.provider}</td>
              <td>{row.organizationId}</td>
              <td>{row.format}</td>
              <StatusCell status={row.status} />
              <td>
                <Time ms={row.createdAt} />
              </td>
              <td>
                <Time ms={row.finishedAt} />
              </td>
              <td class="num">{count(row.rowsTotal)}</td>
              <td class="num">{count(row.rowsInvalid)}</td>
              <td class="num">{count(row.applied)}</td>
              <td class="num">{count(row.held)}</td>
              <td class="num">{count(row.failed + row.deadLettered)}</td>
              <td class="num">{count(pending(row))}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.imports.length === 0 ? <p class="muted">No imports yet.</p> : null}
      <Pager firstHref={"/admin/console/imports"} continued={Boolean(props.continued)} nextHref={props.nextHref} />
    </Layout>
  );
}

export interface ImportDetailProps {
  session: LayoutSession;
  record: ImportRecord;
  errors: RowError[];
}

/** One import's report: what became of its rows, and the first per-line errors. */
export function ImportDetailPage({ session, record, errors }: ImportDetailProps) {
  const outcomes: [string, number, string | null][] = [
    ["Rows in the file", record.rowsTotal, null],
    ["Valid", record.rowsValid, null],
    ["Invalid (never applied)", record.rowsInvalid, null],
    ["Applied", record.applied, null],
    ["Ignored", record.ignored, null],
    ["Held by the destructive guard", record.held, record.held ? eventsOf(record, "held") : null],
    ["Failing, being retried", record.failed, record.failed ? eventsOf(record, "failed") : null],
    ["Dead-lettered (replayable)", record.deadLettered, record.deadLettered ? eventsOf(record, "dead_lettered") : null],
    ["Pending", pending(record), null],
  ];
  const truncated = record.errorsPrunedAt === null && record.rowsInvalid > errors.length;
  return (
    <Layout title={`Import ${record.id}`} session={session} active="imports">
      <p>
        <a href="/admin/console/imports">← Imports</a>
      </p>
      <table class="fields" data-testid="import-detail">
        <tbody>
          <tr>
            <th scope="row">Import id</th>
            <td>
              <code>{record.id}</code>
            </td>
          </tr>
          <tr>
            <th scope="row">Status</th>
            <StatusCell status={record.status} />
          </tr>
          <tr>
            <th scope="row">Namespace (provider)</th>
            <td>{record.provider}</td>
          </tr>
          <tr>
            <th scope="row">Organization</th>
            <td>{record.organizationId}</td>
          </tr>
          <tr>
            <th scope="row">Directory</th>
            <td>{record.directoryId ?? <span class="muted">—</span>}</td>
          </tr>
          <tr>
            <th scope="row">Format</th>
            <td>{record.format}</td>
          </tr>
          <tr>
            <th scope="row">Created</th>
            <td>
              <Time ms={record.createdAt} />
            </td>
          </tr>
          <tr>
            <th scope="row">Finished</th>
            <td>
              <Time ms={record.finishedAt} />
            </td>
          </tr>
          {record.note ? (
            <tr>
              <th scope="row">Note</th>
              <td>
                <code>{record.note}</code>
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
      <h2>Rows</h2>
      <table class="fields" data-testid="import-counts">
        <tbody>
          {outcomes.map(([label, value, href]) => (
            <tr>
              <th scope="row">{label}</th>
              <td class="num">{href ? <a href={href}>{count(value)}</a> : count(value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Invalid rows</h2>
      {record.errorsPrunedAt !== null ? (
        <p class="muted">
          The per-line errors were dropped by retention on <Time ms={record.errorsPrunedAt} />; the counts above remain.
        </p>
      ) : errors.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <>
          {truncated ? <p class="hint">The first {count(errors.length)} of {count(record.rowsInvalid)} invalid rows.</p> : null}
          <table data-testid="import-errors">
            <thead>
              <tr>
                <th class="num">Row</th>
                <th class="num">Line</th>
                <th>Code</th>
                <th>Field</th>
              </tr>
            </thead>
            <tbody>
              {errors.map((error) => (
                <tr data-testid="import-error-row">
                  <td class="num">{error.row}</td>
                  <td class="num">{error.line}</td>
                  <td>
                    <code>{error.code}</code>
                  </td>
                  <td>{error.field ?? <span class="muted">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Layout>
  );
}
