import { countingD1, type CountingD1 } from "../../test/support/d1";

/**
 * Meters for the cost benchmarks: wrappers around the real bindings that count what Cloudflare
 * bills (KV reads and writes, D1 rows) and what it does not (Cache API calls), on the real path.
 */

export function countingKv(real: KVNamespace) {
  const counts = { reads: 0, writes: 0 };
  const kv = {
    get: (key: string) => {
      counts.reads++;
      return real.get(key);
    },
    put: (...args: Parameters<KVNamespace["put"]>) => {
      counts.writes++;
      return real.put(...args);
    },
  } as unknown as KVNamespace;
  return { kv, counts };
}

/** Counts `match` and `put` on a Cache into `counts` (the fast path uses no other call). */
export function countingCache(real: Cache, counts: { matches: number; puts: number }): Cache {
  return {
    match: (...args: Parameters<Cache["match"]>) => {
      counts.matches++;
      return real.match(...args);
    },
    put: (...args: Parameters<Cache["put"]>) => {
      counts.puts++;
      return real.put(...args);
    },
  } as unknown as Cache;
}

/**
 * countingD1 meters rows from `all()`, `run()` and `batch()` results; `first()` returns no meta,
 * yet D1 bills the rows its query reads. The notification path reads through `first()` (feed
 * state, the delivery to send, the subject's next one), so here `first()` runs as `all()` on the
 * counting binding and returns its first row: same query, same round trip, rows metered.
 */
export function meteredD1(real: D1Database): CountingD1 {
  const counting = countingD1(real);
  const inner = new WeakMap<object, D1PreparedStatement>();
  const wrap = (statement: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(statement, {
      get(target, property) {
        if (property === "bind") return (...values: unknown[]) => wrap(target.bind(...values));
        if (property === "first") {
          return async (column?: string) => {
            const row = ((await target.all()).results[0] ?? null) as Record<string, unknown> | null;
            return column === undefined ? row : (row?.[column] ?? null);
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    inner.set(proxy, statement);
    return proxy;
  };
  const db = new Proxy(counting.db, {
    get(target, property) {
      if (property === "prepare") return (sql: string) => wrap(target.prepare(sql));
      if (property === "batch") return (statements: D1PreparedStatement[]) => target.batch(statements.map((s) => inner.get(s) ?? s));
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { ...counting, db };
}
