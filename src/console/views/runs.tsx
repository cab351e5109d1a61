import type { ReconcileProviderState } from "../../operator/runs";
import type { ReconcileRun } from "../../reconcile/runs";
import { CsrfField, Layout, type LayoutSession, type Notice } from "./layout";
import { count, runPath, StatusCell, Time } from "./format";
import { Pager } from "./pager";

export interface RunsProps {
  session: LayoutSession;
  runs: ReconcileRun[];
  providers: ReconcileProviderState[];
  notice: Notice | null;
  nextHref: string | null;
  continued: boolean;
}

export function RunsPage(props: RunsProps) {
  return (
    <Layout title="Reconciliation" session={props.session} active="runs" notice={props.notice}>
      <StartRunForm session={props.session} providers={props.providers} />
      <h2>Runs</h2>
      <p class="hint">Newest first. Times are UTC. Removals are deactivations and users forgotten; a run whose guard tripped removed nobody.</p>
      <table data-testid="runs">
        <thead>
          <tr>
            <th>Run</th>
            <th>Provider</th>
            <th>Scope</th>
            <th>Trigger</th>
            <th>Status</th>
            <th>Started</th>
            <th>Finished</th>
            <th class="num">Scanned</th>
            <th class="num">Created</th>
            <th class="num">Updated</th>
            <th class="num">Deactivated</th>
            <th class="num">Forgotten</th>
            <th class="num">Errors</th>
          </tr>
        </thead>
        <tbody>
          {props.runs.map((run) => (
            <tr data-testid="run-row" data-run-id={run.id}>
              <td>
                <a href={runPath(run.id)}>
                  <code>{run.id.slice(0, 8)}</code>
                </a>
              </td>
              <td>{run.provider}</td>
              <td>{run.scope || <span class="muted">all</span>}</td>
              <td>{run.trigger}</td>
              <StatusCell status={run.status} />
              <td>
                <Time ms={run.startedAt} />
              </td>
              <td>
                <Time ms={run.finishedAt} />
              </td>
              <td class="num">{count(run.scanned)}</td>
              <td class="num">{count(run.created)}</td>
              <td class="num">{count(run.updated)}</td>
              <td class="num">{count(run.deactivated)}</td>
              <td class="num">{count(run.forgotten)}</td>
              <td class="num">{count(run.errors)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.runs.length === 0 ? <p class="muted">No runs yet.</p> : null}
      <Pager firstHref={"/admin/console/runs"} continued={Boolean(props.continued)} nextHref={props.nextHref} />
    </Layout>
  );
}

const PROVIDER_STATE_TEXT: Record<ReconcileProviderState["state"], string> = {
  configured: "",
  not_configured: " (upstream not configured)",
  misconfigured: " (upstream settings invalid)",
};

/** Admins start a run here; viewers see which providers can be reconciled, and no button. */
function StartRunForm({ session, providers }: { session: LayoutSession; providers: ReconcileProviderState[] }) {
  const startable = providers.filter((provider) => provider.state === "configured");
  if (session.role !== "admin") return null;
  return (
    <form id="start-run" method="post" action="/admin/console/runs" data-confirm="Start a reconciliation run now?">
      <CsrfField session={session} />
      <label>
        Start a run for{" "}
        <select name="provider" required>
          {providers.map((provider) => (
            <option value={provider.provider} disabled={provider.state !== "configured"}>
              {provider.provider}
              {PROVIDER_STATE_TEXT[provider.state]}
            </option>
          ))}
        </select>
      </label>{" "}
      <button type="submit" class="primary" disabled={startable.length === 0} data-testid="start-run">
        Start a run
      </button>{" "}
      <span class="hint">If one is already running for that provider, you are taken to it instead (and it is resumed if it stalled).</span>
    </form>
  );
}

export interface RunDetailProps {
  session: LayoutSession;
  run: ReconcileRun;
  notice: Notice | null;
}

/** A run's report: its checkpoint, its counts and, when it stopped short, why. */
export function RunDetailPage({ session, run, notice }: RunDetailProps) {
  const counts: [string, number | null][] = [
    ["Listing pages read", run.pages],
    ["Resources scanned", run.scanned],
    ["Upstream total", run.upstreamTotal],
    ["Created", run.created],
    ["Updated", run.updated],
    ["Unchanged", run.unchanged],
    ["Deactivated", run.deactivated],
    ["Forgotten", run.forgotten],
    ["Groups changed", run.groupsChanged],
    ["Memberships changed", run.membershipsChanged],
    ["Step errors", run.errors],
  ];
  return (
    <Layout title={`Run ${run.id.slice(0, 8)}`} session={session} active="runs" notice={notice}>
      <p>
        <a href="/admin/console/runs">← Reconciliation</a>
      </p>
      <StopReason run={run} />
      <table class="fields" data-testid="run-detail">
        <tbody>
          <tr>
            <th scope="row">Run id</th>
            <td>
              <code>{run.id}</code>
            </td>
          </tr>
          <tr>
            <th scope="row">Provider</th>
            <td>{run.provider}</td>
          </tr>
          <tr>
            <th scope="row">Scope</th>
            <td>{run.scope || "the whole upstream"}</td>
          </tr>
          <tr>
            <th scope="row">Trigger</th>
            <td>{run.trigger}</td>
          </tr>
          <tr>
            <th scope="row">Status</th>
            <StatusCell status={run.status} />
          </tr>
          <tr>
            <th scope="row">Phase</th>
            <td>{run.phase}</td>
          </tr>
          <tr>
            <th scope="row">Started (UTC)</th>
            <td>
              <Time ms={run.startedAt} />
            </td>
          </tr>
          <tr>
            <th scope="row">Last progress (UTC)</th>
            <td>
              <Time ms={run.updatedAt} />
            </td>
          </tr>
          <tr>
            <th scope="row">Finished (UTC)</th>
            <td>
              <Time ms={run.finishedAt} />
            </td>
          </tr>
          <tr>
            <th scope="row">Duration</th>
            <td>{run.finishedAt === null ? <span class="muted">—</span> : duration(run.finishedAt - run.startedAt)}</td>
          </tr>
          {counts.map(([label, value]) => (
            <tr>
              <th scope="row">{label}</th>
              <td class="num" data-count={label}>
                {value === null ? <span class="muted">—</span> : count(value)}
              </td>
            </tr>
          ))}
          <tr>
            <th scope="row">Last step error</th>
            <td>{run.lastError ? <pre class="error-text">{run.lastError}</pre> : <span class="muted">—</span>}</td>
          </tr>
        </tbody>
      </table>
    </Layout>
  );
}

/**
 * Why a run ended as it did, in the words the run recorded (reconcile_runs.note): the mass-removal
 * guard says how many removals it refused out of how many users and what share is allowed
 * (RECONCILE_MAX_REMOVAL_SHARE); a failed run says what was wrong.
 */
function StopReason({ run }: { run: ReconcileRun }) {
  if (run.status === "guard_tripped") {
    return (
      <section class="panel" data-testid="guard-reason">
        <h2>Why the guard tripped</h2>
        <p>
          The mass-removal guard stops a run that would deactivate or forget more than RECONCILE_MAX_REMOVAL_SHARE of a directory's users at once, because that
          is far likelier a broken upstream (an empty or truncated listing) than a real departure. Nothing was removed.
        </p>
        <p class="error">{run.note ?? "No reason was recorded."}</p>
      </section>
    );
  }
  if (run.status === "failed") {
    return (
      <section class="panel" data-testid="failure-reason">
        <h2>Why it failed</h2>
        <p class="error">{run.note ?? run.lastError ?? "No reason was recorded."}</p>
      </section>
    );
  }
  if (run.note) {
    return (
      <section class="panel" data-testid="run-note">
        <h2>Note</h2>
        <p>{run.note}</p>
      </section>
    );
  }
  return null;
}

function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 120 ? `${minutes} min ${seconds % 60} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
