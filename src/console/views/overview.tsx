import type { Child } from "hono/jsx";
import { isUnavailable, type CappedCount, type HourlyChart, type Overview } from "../overview";

type Available<T> = Exclude<T, { unavailable: true }>;
import { Layout, type LayoutSession } from "./layout";

/** The overview page: health, the last 24 h, dead letters, last runs, notifications, Firstup's subscription. */
export function OverviewPage({ session, overview, firstup }: { session: LayoutSession; overview: Overview; firstup?: Child }) {
  return (
    <Layout title="Overview" session={session} active="overview">
      <div class="panels">
        <HealthPanel health={overview.health} />
        {isUnavailable(overview.deadLetters) ? <UnavailablePanel title="Dead letters" testId="dead-letter-count" /> : <DeadLetterPanel deadLetters={overview.deadLetters} />}
        <section class="panel wide" aria-labelledby="chart-heading">
          <h2 id="chart-heading">Events per hour, last 24 hours (UTC)</h2>
          {isUnavailable(overview.chart) ? <Unavailable /> : <EventsChart chart={overview.chart} />}
          <p class="hint">
            Each event is counted when it enters a status, in that hour: an event that failed and later applied counts once as failed and once as applied. Waiting for an
            upstream to catch up is recorded as failed (with its code) and counted so.
          </p>
        </section>
        {isUnavailable(overview.lastRuns) ? <UnavailablePanel title="Last reconciliation run per provider" testId="last-runs" /> : <LastRunsPanel runs={overview.lastRuns} />}
        {isUnavailable(overview.notifications) ? <UnavailablePanel title="Change notifications" testId="notifications" /> : <NotificationsPanel notifications={overview.notifications} />}
        <section class="panel wide" data-testid="firstup-subscription" aria-labelledby="firstup-heading">
          <h2 id="firstup-heading">Firstup webhook subscription</h2>
          {firstup ?? (
            <p>
              <span class="status-not_checked" data-testid="status">
                not checked
              </span>
            </p>
          )}
        </section>
      </div>
    </Layout>
  );
}

/** A panel whose D1 read failed: said so, with the rest of the page intact. */
function Unavailable() {
  return (
    <p>
      <span class="status-error" data-testid="status" data-state="unavailable">
        unavailable: D1 did not answer (see Health)
      </span>
    </p>
  );
}

function UnavailablePanel({ title, testId }: { title: string; testId: string }) {
  return (
    <section class="panel" data-testid={testId}>
      <h2>{title}</h2>
      <Unavailable />
    </section>
  );
}

const BINDING_LABELS: [keyof Overview["health"]["bindings"], string][] = [
  ["d1", "D1 database"],
  ["kv", "KV (SEEN_EVENTS)"],
  ["queue", "Events queue"],
  ["notify_queue", "Notifications queue"],
];

const UPSTREAM_LABELS: Record<string, string> = { not_configured: "not configured", misconfigured: "misconfigured", ok: "ok", error: "error" };

function HealthPanel({ health }: { health: Overview["health"] }) {
  return (
    <section class="panel" data-testid="health" aria-labelledby="health-heading">
      <h2 id="health-heading">Health</h2>
      <table>
        <tbody>
          {BINDING_LABELS.map(([key, label]) => (
            <tr data-check={key}>
              <th scope="row">{label}</th>
              <td class={`status-${health.bindings[key]}`} data-testid="status">
                {health.bindings[key]}
              </td>
            </tr>
          ))}
          {health.upstreams.map((upstream) => (
            <tr data-check={`upstream:${upstream.provider}`}>
              <th scope="row">{`Upstream: ${upstream.provider}`}</th>
              <td class={`status-${upstream.status}`} data-testid="status" data-code={upstream.code ?? undefined}>
                {UPSTREAM_LABELS[upstream.status]}
                {upstream.code ? <span class="muted">{` (${upstream.code})`}</span> : null}
              </td>
            </tr>
          ))}
          <tr data-check="settings">
            <th scope="row">Settings</th>
            <td class={health.invalidSettings.length ? "status-error" : "status-ok"} data-testid="status">
              {health.invalidSettings.length ? `invalid: ${health.invalidSettings.map((s) => `${s.setting} (${s.problem})`).join(", ")}` : "ok"}
            </td>
          </tr>
        </tbody>
      </table>
    </section>
  );
}

export const formatCount = (count: CappedCount) => `${count.count.toLocaleString("en-US")}${count.capped ? "+" : ""}`;

function DeadLetterPanel({ deadLetters }: { deadLetters: Available<Overview["deadLetters"]> }) {
  return (
    <section class="panel" aria-labelledby="dead-letters-heading">
      <h2 id="dead-letters-heading">Dead letters</h2>
      <p class="big" data-testid="dead-letter-count" data-count={deadLetters.stored.count} data-capped={String(deadLetters.stored.capped)}>
        {formatCount(deadLetters.stored)}
      </p>
      <p>
        stored; events still dead-lettered (not replayed): <strong data-testid="dead-lettered-events">{formatCount(deadLetters.unresolved)}</strong>
      </p>
      <p>
        <a href="/admin/console/dead-letters">Dead letters</a> · <a href="/admin/console/events?status=failed">Failed events</a>
      </p>
    </section>
  );
}

const STATUS_COLORS: Record<string, string> = {
  applied: "#2e8b57",
  ignored: "#9aa5b1",
  failed: "#d9822b",
  dead_lettered: "#c0392b",
  held: "#8e6bbf",
  quarantined: "#b8860b",
  rejected: "#6d4c41",
};

const hourLabel = (ms: number) => `${new Date(ms).toISOString().slice(11, 13)}:00`;
const timeLabel = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;

/**
 * Stacked bars, one per hour, drawn server-side as inline SVG (no script, no chart library). Colors
 * are presentation attributes, which the CSP allows (inline `style` would not be). Screen readers
 * get the title and a description with the totals; the table under it has every number.
 */
export function EventsChart({ chart }: { chart: HourlyChart }) {
  const width = 720;
  const height = 200;
  const left = 44;
  const bottom = 22;
  const top = 8;
  const plotHeight = height - bottom - top;
  const slot = (width - left) / chart.hours.length;
  const perHour = chart.hours.map((_, i) => chart.series.reduce((sum, line) => sum + line.counts[i]!, 0));
  const max = Math.max(1, ...perHour);
  const total = perHour.reduce((sum, n) => sum + n, 0);
  const summary = chart.series.length
    ? `${total.toLocaleString("en-US")} events in the last 24 hours: ${chart.series.map((line) => `${line.total.toLocaleString("en-US")} ${line.status}`).join(", ")}.`
    : "No events in the last 24 hours.";
  return (
    <figure class="chart">
      <svg
        data-testid="events-chart"
        role="img"
        aria-labelledby="events-chart-title events-chart-desc"
        viewBox={`0 0 ${width} ${height}`}
        xmlns="http://www.w3.org/2000/svg"
        data-total={total}
      >
        <title id="events-chart-title">Events per hour by status, last 24 hours</title>
        <desc id="events-chart-desc">{summary}</desc>
        <line x1={left} y1={top + plotHeight} x2={width} y2={top + plotHeight} stroke="#9aa5b1" stroke-width="1" />
        <text x={left - 6} y={top + 10} text-anchor="end" font-size="11" fill="#5b6475">
          {max.toLocaleString("en-US")}
        </text>
        <text x={left - 6} y={top + plotHeight} text-anchor="end" font-size="11" fill="#5b6475">
          0
        </text>
        {chart.hours.map((hour, i) => {
          let y = top + plotHeight;
          const x = left + i * slot + 2;
          return (
            <g>
              {chart.series.map((line) => {
                const value = line.counts[i]!;
                if (value === 0) return null;
                const h = (value / max) * plotHeight;
                y -= h;
                return (
                  <rect x={x.toFixed(1)} y={y.toFixed(1)} width={(slot - 4).toFixed(1)} height={h.toFixed(1)} fill={STATUS_COLORS[line.status] ?? "#888"}>
                    <title>{`${timeLabel(hour)}: ${value.toLocaleString("en-US")} ${line.status}`}</title>
                  </rect>
                );
              })}
              {i % 6 === 0 || i === chart.hours.length - 1 ? (
                <text x={(x + (slot - 4) / 2).toFixed(1)} y={height - 6} text-anchor="middle" font-size="11" fill="#5b6475">
                  {hourLabel(hour)}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <ul class="legend">
          {chart.series.map((line) => (
            <li data-testid="chart-total" data-status={line.status} data-total={line.total}>
              <span class={`swatch swatch-${line.status}`}></span>
              {`${line.status}: ${line.total.toLocaleString("en-US")}`}
            </li>
          ))}
          {chart.series.length === 0 ? <li>No events in the last 24 hours.</li> : null}
        </ul>
      </figcaption>
      <details class="data">
        <summary>The numbers, per hour</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Hour (UTC)</th>
              {chart.series.map((line) => (
                <th scope="col" class="num">
                  {line.status}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {chart.hours.map((hour, i) => (
              <tr>
                <th scope="row">{timeLabel(hour)}</th>
                {chart.series.map((line) => (
                  <td class="num">{line.counts[i]!.toLocaleString("en-US")}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

function LastRunsPanel({ runs }: { runs: Available<Overview["lastRuns"]> }) {
  return (
    <section class="panel wide" data-testid="last-runs" aria-labelledby="runs-heading">
      <h2 id="runs-heading">Last reconciliation run per provider</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Provider</th>
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col" class="num">
              Created
            </th>
            <th scope="col" class="num">
              Updated
            </th>
            <th scope="col" class="num">
              Deactivated
            </th>
            <th scope="col" class="num">
              Forgotten
            </th>
            <th scope="col">Note</th>
          </tr>
        </thead>
        <tbody>
          {runs.map(({ provider, run }) =>
            run ? (
              <tr data-testid="run-row" data-provider={provider} data-run-id={run.id}>
                <th scope="row">{provider}</th>
                <td data-testid="status" class={`status-${run.status}`}>
                  <a href={`/admin/console/runs/${encodeURIComponent(run.id)}`}>{run.status}</a>
                </td>
                <td>{`${timeLabel(run.startedAt)} (${run.trigger}${run.scope ? `, ${run.scope}` : ""})`}</td>
                <td class="num" data-field="created">
                  {run.created}
                </td>
                <td class="num" data-field="updated">
                  {run.updated}
                </td>
                <td class="num" data-field="deactivated">
                  {run.deactivated}
                </td>
                <td class="num" data-field="forgotten">
                  {run.forgotten}
                </td>
                <td>{run.note ?? run.lastError ?? ""}</td>
              </tr>
            ) : (
              <tr data-testid="run-row" data-provider={provider}>
                <th scope="row">{provider}</th>
                <td data-testid="status" class="muted">
                  never run
                </td>
                <td colspan={6}></td>
              </tr>
            ),
          )}
        </tbody>
      </table>
      <p>
        <a href="/admin/console/runs">All runs</a>
      </p>
    </section>
  );
}

function NotificationsPanel({ notifications }: { notifications: Available<Overview["notifications"]> }) {
  const state = !notifications.configured ? "not_configured" : notifications.disabled ? "disabled" : "on";
  return (
    <section class="panel" data-testid="notifications" aria-labelledby="notifications-heading">
      <h2 id="notifications-heading">Change notifications</h2>
      <p>
        <span class={`status-${state === "on" ? "ok" : state === "disabled" ? "error" : "not_configured"}`} data-testid="status" data-state={state}>
          {state === "on" ? "on" : state === "disabled" ? "stopped: the endpoint answered 410" : "off (APP_WEBHOOK_URL not set)"}
        </span>
        {notifications.endpoint ? <span class="muted">{` → ${notifications.endpoint}`}</span> : null}
      </p>
      {notifications.configured ? (
        <table>
          <tbody>
            <tr>
              <th scope="row">Pending deliveries</th>
              <td class="num" data-testid="notifications-pending">
                {formatCount(notifications.pending)}
              </td>
            </tr>
            <tr>
              <th scope="row">Changes not yet relayed</th>
              <td class="num">{notifications.unrelayed.toLocaleString("en-US")}</td>
            </tr>
            {notifications.disabled ? (
              <tr>
                <th scope="row">Stopped at</th>
                <td>{timeLabel(notifications.disabled.at)}</td>
              </tr>
            ) : null}
          </tbody>
        </table>
      ) : null}
      <p class="hint">Delivered, rejected and failed totals: GET /admin/notifications (JSON API).</p>
    </section>
  );
}
