import type { DirectoryRow } from "../../directory/directories";
import { Layout, type LayoutSession } from "./layout";
import { StatusCell, Time } from "./format";

/** A SCIM connection as the console shows it: never its token or a hash of one. */
export interface ConnectionView {
  id: string;
  name: string | null;
  organizationId: string;
  provider: string;
  baseUrl: string;
  status: "active" | "disabled";
  createdAt: number;
  lastUsedAt: number | null;
  disabledAt: number | null;
  /** While a rotation's previous token still works: when it stops. */
  previousTokenExpiresAt: number | null;
}

export interface DirectoriesProps {
  session: LayoutSession;
  directories: DirectoryRow[];
  directoriesNextHref: string | null;
  connections: ConnectionView[];
  connectionsNextHref: string | null;
}

export function DirectoriesPage(props: DirectoriesProps) {
  return (
    <Layout title="Directories and connections" session={props.session} active="directories">
      <h2>Directories</h2>
      <p class="hint">
        Directories providers have told us about (Scalekit's directory events, reconciliation's discovery). A disabled directory is a customer switching sync
        off. Times are UTC.
      </p>
      <table data-testid="directories">
        <thead>
          <tr>
            <th>Provider</th>
            <th>Directory</th>
            <th>Organization</th>
            <th>Type</th>
            <th>Identity provider</th>
            <th>Enabled</th>
            <th>Provider's status</th>
            <th>Last event</th>
          </tr>
        </thead>
        <tbody>
          {props.directories.map((row) => (
            <tr data-testid="directory-row">
              <td>{row.provider}</td>
              <td>
                <code>{row.id}</code>
              </td>
              <td>{row.organizationId ?? <span class="muted">—</span>}</td>
              <td>{row.directoryType ?? ""}</td>
              <td>{row.idpProvider ?? ""}</td>
              <StatusCell status={row.enabled === null ? "unknown" : row.enabled ? "enabled" : "disabled"} />
              <td>{row.status ?? ""}</td>
              <td>
                <Time ms={row.lastEventAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.directories.length === 0 ? <p class="muted">No directories known yet.</p> : null}
      {props.directoriesNextHref ? (
        <p class="pager">
          <a href={props.directoriesNextHref} data-testid="directories-next">
            More directories
          </a>
        </p>
      ) : null}

      <h2>SCIM connections</h2>
      <p class="hint">
        Identity providers that provision straight into this service. Tokens are shown once, when created or rotated through the admin API
        (<code>/admin/scim-connections</code>), and never again.
      </p>
      <table data-testid="connections">
        <thead>
          <tr>
            <th>Name</th>
            <th>Connection</th>
            <th>Organization</th>
            <th>Status</th>
            <th>Token rotation</th>
            <th>Created</th>
            <th>Last used</th>
            <th>SCIM base URL</th>
          </tr>
        </thead>
        <tbody>
          {props.connections.map((connection) => (
            <tr data-testid="connection-row" data-connection-id={connection.id}>
              <td>{connection.name ?? <span class="muted">—</span>}</td>
              <td>
                <code>{connection.id}</code>
              </td>
              <td>{connection.organizationId}</td>
              <StatusCell status={connection.status} />
              <td data-testid="rotation">
                {connection.previousTokenExpiresAt !== null ? (
                  <>
                    rotating: the previous token works until <Time ms={connection.previousTokenExpiresAt} />
                  </>
                ) : connection.status === "disabled" ? (
                  <>
                    disabled <Time ms={connection.disabledAt} />
                  </>
                ) : (
                  "one token"
                )}
              </td>
              <td>
                <Time ms={connection.createdAt} />
              </td>
              <td>
                <Time ms={connection.lastUsedAt} />
              </td>
              <td>
                <code>{connection.baseUrl}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.connections.length === 0 ? <p class="muted">No SCIM connections.</p> : null}
      {props.connectionsNextHref ? (
        <p class="pager">
          <a href={props.connectionsNextHref} data-testid="connections-next">
            More connections
          </a>
        </p>
      ) : null}
    </Layout>
  );
}
