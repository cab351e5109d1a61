/**
 * Wraps a real D1 binding to count round trips (each `batch()` and each statement run outside
 * a batch is one) and, optionally, to fail batches the way an outage or a bad row would.
 */
export interface CountingD1 {
  db: D1Database;
  roundTrips: () => number;
  /** Rows D1 reports reading and writing (result meta), the units D1 bills. */
  rows: () => { read: number; written: number };
  reset: () => void;
}

export interface CountingOptions {
  /**
   * Also meter reads that D1 reports no meta for: `raw()` (every drizzle select) and `first()`.
   * Each such SELECT is run a second time with `all()` to learn its rows read (reads only: a
   * statement that writes is never run twice). Off by default, so existing counts stay as they were.
   */
  meterEveryRead?: boolean;
}

export function countingD1(real: D1Database, failBatch?: (sql: string[]) => Error | undefined, options: CountingOptions = {}): CountingD1 {
  let trips = 0;
  let rowsRead = 0;
  let rowsWritten = 0;
  const meter = (result: unknown) => {
    for (const item of Array.isArray(result) ? result : [result]) {
      const meta = (item as { meta?: { rows_read?: number; rows_written?: number } } | null)?.meta;
      rowsRead += meta?.rows_read ?? 0;
      rowsWritten += meta?.rows_written ?? 0;
    }
    return result;
  };
  const unwrap = new WeakMap<object, D1PreparedStatement>();
  const sqlOf = new WeakMap<object, string>();

  // `sql` names a statement with its bound values (what failBatch sees); `text` is the SQL alone.
  const wrapStatement = (statement: D1PreparedStatement, sql: string, text = sql): D1PreparedStatement => {
    const proxy = new Proxy(statement, {
      get(target, property) {
        if (property === "bind") return (...values: unknown[]) => wrapStatement(target.bind(...values), sql + JSON.stringify(values), text);
        if (property === "all" || property === "run" || property === "raw" || property === "first") {
          return async (...args: unknown[]) => {
            trips++;
            const result = await (target[property] as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            if (property === "all" || property === "run") return meter(result);
            if (options.meterEveryRead && isPureRead(text)) meter(await target.all());
            return result;
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    unwrap.set(proxy, statement);
    sqlOf.set(proxy, sql);
    return proxy;
  };

  const db = new Proxy(real, {
    get(target, property) {
      if (property === "prepare") return (sql: string) => wrapStatement(target.prepare(sql), sql);
      if (property === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          trips++;
          const failure = failBatch?.(statements.map((s) => sqlOf.get(s) ?? ""));
          if (failure) throw failure;
          return meter(await target.batch(statements.map((s) => unwrap.get(s) ?? s)));
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    db,
    roundTrips: () => trips,
    rows: () => ({ read: rowsRead, written: rowsWritten }),
    reset: () => {
      trips = 0;
      rowsRead = 0;
      rowsWritten = 0;
    },
  };
}

/** A statement that only reads (no INSERT/UPDATE/DELETE/REPLACE anywhere in it), so running it twice changes nothing. */
function isPureRead(sql: string): boolean {
  return /^\s*(select|with)\b/i.test(sql) && !/\b(insert|update|delete|replace|returning)\b/i.test(sql);
}
