/**
 * `wrangler dev` for the ingest benchmarks, with the CPU time its processes have used, from the
 * kernel's own accounting (utime + stime in /proc/<pid>/stat), so a figure can say which process
 * spent it: the Worker's runtime, wrangler's proxy in front of it, or wrangler itself.
 *
 * It runs from a configuration generated off wrangler.toml (paths made absolute, nothing else
 * changed) so that one setting can differ where a benchmark needs it: `deliveryDelaySeconds` puts
 * Miniflare's `delivery_delay` on the EVENTS_QUEUE producer. The local queue then takes each message
 * exactly as before (the Worker's send is unchanged) and holds it that long before the consumer
 * sees it: the consumer is paused for the length of a load run without touching the request path.
 * (Leaving the consumer out of the configuration would not do: Miniflare's queue drops messages
 * that have no local consumer, so the send would cost less than it does.) Production ignores
 * `delivery_delay` on a producer binding; it only exists here.
 *
 * scripts/local-worker.ts starts the Worker for the other load tests; this one also needs the
 * generated configuration, the process tree's ids and (for the consumer) the queue's batch log.
 */
import { execFileSync, spawn } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const WRANGLER = resolve(ROOT, "node_modules/wrangler/bin/wrangler.js");
const CONFIG_DIR = resolve(ROOT, ".wrangler/bench-config");
/** The producer binding whose queue the consumer reads (wrangler.toml). */
const START_TIMEOUT_MS = 180_000;
const EVENTS_PRODUCER = 'binding = "EVENTS_QUEUE"\nqueue = "directory-events"';

/** Who spent the CPU: the processes of `wrangler dev`, and this one (autocannon and its request signing). */
export type CpuRole = "runtime" | "proxy" | "wrangler" | "loadGenerator";
export type CpuMs = Record<CpuRole, number>;
export const CPU_ROLES: readonly CpuRole[] = ["runtime", "proxy", "wrangler", "loadGenerator"];

/** One batch the local queue handed to the consumer, as Miniflare's broker logged it. */
export interface QueueBatch {
  queue: string;
  acked: number;
  size: number;
  /** The broker's own timing of the consumer invocation (dispatch to answer). */
  ms: number;
  /** When this process read the line. */
  atMs: number;
}

/** CPU time so far, per role, and which workerd processes it was read from. */
export interface CpuSample {
  ms: CpuMs;
  /**
   * The workerd processes' ids. wrangler dev restarts its runtime when a source file changes (it
   * watches them), and a new process's counters start again at zero.
   */
  workerd: string;
}

export interface BenchWorker {
  url: string;
  /** Subtract two samples (`cpuBetween`) to get what a run cost. */
  cpu(): CpuSample;
  /** Every consumer batch so far (only with `logQueueBatches`). */
  readonly queueBatches: QueueBatch[];
  /** A SQL query against the running Worker's local D1 (spawns wrangler: never inside a measured window). */
  query<T>(sql: string): T[];
  stop(): void;
}

export interface BenchWorkerOptions {
  port: number;
  /** Names the state directory and the generated configuration. */
  name: string;
  /** Hold each EVENTS_QUEUE message this long before the consumer sees it (see above). */
  deliveryDelaySeconds?: number;
  vars?: Record<string, string>;
  /** Run wrangler at log level info and collect the queue's batch lines (it then also logs each request). */
  logQueueBatches?: boolean;
}

let migratedTemplate: string | undefined;

export async function startBenchWorker(options: BenchWorkerOptions): Promise<BenchWorker> {
  const state = resolve(ROOT, `.wrangler/bench-${options.name}-state`);
  rmSync(state, { recursive: true, force: true });
  const config = writeConfig(options.name, options.deliveryDelaySeconds);
  const env = { ...process.env, CI: "true", NO_COLOR: "1" };
  const wrangler = (args: string[]) => [WRANGLER, ...args, "--config", config];
  // Migrations are applied once per process into a template that each server's state starts from:
  // a wrangler process per server would cost seconds of start-up each.
  if (!migratedTemplate) {
    migratedTemplate = resolve(ROOT, ".wrangler/bench-migrated-state");
    rmSync(migratedTemplate, { recursive: true, force: true });
    execFileSync(process.execPath, wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", migratedTemplate]), { stdio: "ignore", env, cwd: ROOT });
  }
  cpSync(migratedTemplate, state, { recursive: true });
  const vars = Object.entries(options.vars ?? {}).flatMap(([key, value]) => ["--var", `${key}:${value}`]);
  const server = spawn(
    process.execPath,
    wrangler([
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(options.port),
      "--persist-to",
      state,
      "--env-file",
      resolve(ROOT, ".dev.vars.example"),
      "--log-level",
      options.logQueueBatches ? "info" : "error",
      ...vars,
    ]),
    { stdio: ["ignore", options.logQueueBatches ? "pipe" : "ignore", "ignore"], detached: true, env, cwd: ROOT },
  );
  const queueBatches: QueueBatch[] = [];
  if (server.stdout) {
    let pending = "";
    server.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        // e.g. "[wrangler:info] QUEUE directory-events 100/100 (78ms)"
        const match = /QUEUE (\S+) (\d+)\/(\d+) \((\d+)ms\)/.exec(line);
        if (match) queueBatches.push({ queue: match[1]!, acked: Number(match[2]), size: Number(match[3]), ms: Number(match[4]), atMs: performance.now() });
      }
    });
  }
  const stop = () => {
    try {
      process.kill(-server.pid!, "SIGTERM");
    } catch {
      // already gone
    }
  };
  const url = `http://127.0.0.1:${options.port}`;
  // Generous: a shared machine under load has taken over a minute to bring a wrangler dev up.
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      stop();
      throw new Error(`wrangler dev (${options.name}) did not start within ${START_TIMEOUT_MS / 1000} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const group = server.pid!;
  return {
    url,
    cpu: () => processGroupCpu(group, options.port),
    queueBatches,
    query<T>(sql: string): T[] {
      const output = execFileSync(process.execPath, wrangler(["d1", "execute", "DB", "--local", "--persist-to", state, "--json", "--command", sql]), { env, encoding: "utf8", cwd: ROOT });
      return (JSON.parse(output) as { results: T[] }[])[0]?.results ?? [];
    },
    stop,
  };
}

/** wrangler.toml with absolute paths (the copy lives under .wrangler/) and, optionally, the delay. */
function writeConfig(name: string, deliveryDelaySeconds: number | undefined): string {
  let toml = readFileSync(resolve(ROOT, "wrangler.toml"), "utf8")
    .replace(/^main = "([^"]+)"$/m, (_, path: string) => `main = ${JSON.stringify(resolve(ROOT, path))}`)
    .replace(/^migrations_dir = "([^"]+)"$/m, (_, path: string) => `migrations_dir = ${JSON.stringify(resolve(ROOT, path))}`);
  if (deliveryDelaySeconds !== undefined) {
    if (!toml.includes(EVENTS_PRODUCER)) throw new Error("wrangler.toml has no EVENTS_QUEUE producer to delay");
    toml = toml.replace(EVENTS_PRODUCER, `${EVENTS_PRODUCER}\ndelivery_delay = ${deliveryDelaySeconds}`);
  }
  mkdirSync(CONFIG_DIR, { recursive: true });
  const path = resolve(CONFIG_DIR, `${name}.toml`);
  writeFileSync(path, toml);
  return path;
}

let ticksPerSecond: number | undefined;

/**
 * utime + stime of every process in wrangler dev's process group (it was spawned detached, so the
 * group is its own), by role, plus this process's own CPU time. Two workerd processes run: the
 * proxy that listens on the port, and the runtime that runs the Worker with its local D1, KV, Cache
 * and Queue (Miniflare runs those as services inside the same workerd).
 */
function processGroupCpu(group: number, port: number): CpuSample {
  ticksPerSecond ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  const own = process.cpuUsage();
  const cpu: CpuMs = { runtime: 0, proxy: 0, wrangler: 0, loadGenerator: (own.user + own.system) / 1000 };
  const workerd: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    let command: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      command = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      continue; // exited meanwhile
    }
    // Fields after the command name, which may hold spaces: state is field 3, so pgrp (5) is [2],
    // utime (14) is [11] and stime (15) is [12].
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) !== group) continue;
    const ms = ((Number(fields[11]) + Number(fields[12])) / ticksPerSecond) * 1000;
    const role: CpuRole = !command.includes("workerd") ? "wrangler" : command.includes(`entry=127.0.0.1:${port} `) ? "proxy" : "runtime";
    cpu[role] += ms;
    if (role !== "wrangler") workerd.push(`${role}:${entry}`);
  }
  return { ms: cpu, workerd: workerd.sort().join(",") };
}

/** What was spent between two samples; null if wrangler dev restarted a workerd in between (the figure would be wrong). */
export function cpuBetween(before: CpuSample, after: CpuSample): CpuMs | null {
  if (before.workerd !== after.workerd) return null;
  return Object.fromEntries(CPU_ROLES.map((role) => [role, after.ms[role] - before.ms[role]])) as CpuMs;
}
