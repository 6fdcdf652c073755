import assert from "node:assert/strict";
import postgres from "postgres";
import { PostgresSink } from "../src/receiver/postgres/mod.ts";
import { createReceiver } from "../src/receiver/receiver.ts";
import { MemoryDedupeStore } from "../src/receiver/memory_dedupe_store.ts";
import type { AcceptedEvent } from "../src/receiver/sink.ts";
import { batchRequest, wireEvent } from "./_receiver_fixtures.ts";
import { serviceUrl, uniqueName } from "./_services.ts";

const url = serviceUrl("postgres");
const ignore = url === undefined;

async function withTable(
  fn: (table: string, sql: postgres.Sql) => Promise<void>,
): Promise<void> {
  const table = uniqueName("events");
  const sql = postgres(url!, { onnotice: () => {} });
  try {
    await fn(table, sql);
  } finally {
    await sql.unsafe(`drop table if exists ${table}`);
    await sql.end();
  }
}

/** Rows of the table and distinct keys among them. */
async function rowsAndKeys(sql: postgres.Sql, table: string): Promise<Record<string, unknown>> {
  const [row] = await sql.unsafe(
    `select count(*)::int as events, count(distinct key)::int as keys from ${table}`,
  );
  return { ...row };
}

function accepted(tenant: string, key: string | undefined, n: number): AcceptedEvent {
  const event = { event: "order_paid", n };
  return key === undefined
    ? { tenant, route: "json", receivedAt: 1_790_000_000_000 + n, event }
    : { tenant, route: "json", key, receivedAt: 1_790_000_000_000 + n, event };
}

Deno.test({
  name: "two receivers whose stores share nothing store each event once in the table",
  ignore,
  fn: () =>
    withTable(async (table, sql) => {
      const sink = await PostgresSink.connect(url!, { table });
      try {
        const body = { events: Array.from({ length: 50 }, (_, i) => wireEvent(i)) };
        const a = createReceiver({ sink, store: new MemoryDedupeStore() });
        const b = createReceiver({ sink, store: new MemoryDedupeStore() });
        const first = await (await a(batchRequest(body))).json();
        assert.ok(first.results.every((r: { status: string }) => r.status === "accepted"));
        // b's store never saw these keys: the table's unique index answers for it.
        const again = await (await b(batchRequest({
          events: [...body.events.slice(0, 10), wireEvent(50)],
        }))).json();
        assert.deepEqual(
          again.results.map((r: { status: string }) => r.status),
          [...Array(10).fill("duplicate"), "accepted"],
        );
        assert.deepEqual(await rowsAndKeys(sql, table), { events: 51, keys: 51 });
        const [stored] = await sql.unsafe(
          `select tenant, route, key, event->>'user_id' as user_id from ${table} where key = 'evt-00000007'`,
        );
        assert.deepEqual({ ...stored }, {
          tenant: "default",
          route: "json",
          key: "evt-00000007",
          user_id: "user-7",
        });
      } finally {
        await sink.close();
      }
    }),
});

Deno.test({
  name:
    "writeOnce stores keyless events always, keeps tenants, long keys and lone surrogates apart, and says which were new",
  ignore,
  fn: () =>
    withTable(async (table, sql) => {
      const sink = await PostgresSink.connect(url!, { table, maxRowsPerInsert: 100 });
      try {
        const long = "k".repeat(3000);
        const events = [
          accepted("a", "k1", 1),
          accepted("b", "k1", 2),
          accepted("a", undefined, 3),
          accepted("a", undefined, 4),
          accepted("a", `${long}1`, 5),
          accepted("a", `${long}2`, 6),
          accepted("a", "x\ud800", 7),
          accepted("a", "x\udc00", 8),
          accepted("a", "x\ufffd", 9),
          accepted("a", "k1", 10),
          accepted("a\ud800", "k1", 11),
          accepted("a", "emoji \u{1F600}", 12),
        ];
        assert.deepEqual(await sink.writeOnce(events), [
          ...Array(9).fill(true),
          false, // the same tenant and key as the first: only the first is stored
          true,
          true,
        ]);
        assert.deepEqual(
          await sink.writeOnce(events),
          events.map((e) => e.key === undefined),
        );
        const [row] = await sql.unsafe(`select count(*)::int as n from ${table}`);
        assert.equal(row!.n, 13);
        const [emoji] = await sql.unsafe(
          `select key, event->>'n' as n from ${table} where key like 'emoji%'`,
        );
        assert.deepEqual({ ...emoji }, { key: "emoji \u{1F600}", n: "12" });
      } finally {
        await sink.close();
      }
    }),
});

Deno.test({
  name:
    "events keep every string the receiver accepted (lone surrogates, U+0000) and their receipt time to the millisecond",
  ignore,
  fn: () =>
    withTable(async (table, sql) => {
      const sink = await PostgresSink.connect(url!, { table });
      try {
        const strange = { ...accepted("t", "s-1", 1), event: { s: "a\ud800b\u0000c\\ud800" } };
        const plain = { ...accepted("t", "s-2", 2), receivedAt: 1_790_000_000_123 };
        assert.deepEqual(await sink.writeOnce([strange, plain]), [true, true]);
        const rows = await sql.unsafe(
          `select key, event::text as event, (extract(epoch from received_at) * 1000)::bigint as ms
           from ${table} order by key`,
        );
        assert.deepEqual(JSON.parse(rows[0]!.event), strange.event);
        assert.equal(Number(rows[0]!.ms), strange.receivedAt);
        assert.deepEqual(JSON.parse(rows[1]!.event), plain.event);
        assert.equal(Number(rows[1]!.ms), 1_790_000_000_123);
      } finally {
        await sink.close();
      }
    }),
});

Deno.test({
  name:
    "tabs, newlines, carriage returns and backslashes in tenants, keys and events come back as sent",
  ignore,
  fn: () =>
    withTable(async (table, sql) => {
      const sink = await PostgresSink.connect(url!, { table });
      try {
        const odd = "a\tb\nc\rd\\e\\N\\.";
        const events: AcceptedEvent[] = [
          { ...accepted(odd, odd, 1), event: { s: odd, nested: { t: `\\${odd}` } } },
          { ...accepted("\\.", "\\N", 2), event: { s: "\\N" } },
        ];
        assert.deepEqual(await sink.writeOnce(events), [true, true]);
        const rows = await sql.unsafe(
          `select tenant, key, event::text as event from ${table} order by received_at`,
        );
        assert.deepEqual(
          rows.map((row) => ({ tenant: row.tenant, key: row.key, event: JSON.parse(row.event) })),
          events.map((e) => ({ tenant: e.tenant, key: e.key, event: e.event })),
        );
        // Keys compare by bytes, whatever the database's locale.
        const collations = await sql`select column_name, collation_name
          from information_schema.columns where table_name = ${table}
          and column_name in ('tenant', 'key') order by column_name`;
        assert.deepEqual(collations.map((row) => row.collation_name), ["C", "C"]);
      } finally {
        await sink.close();
      }
    }),
});

Deno.test({
  name:
    "a write whose last key is already stored stores the others once, and the connection serves the next writes",
  ignore,
  fn: () =>
    withTable(async (table, sql) => {
      // One connection: the failed COPY and every later write go through it.
      const sink = await PostgresSink.connect(url!, { table, maxRowsPerInsert: 100 }, { max: 1 });
      try {
        assert.deepEqual(await sink.writeOnce([accepted("t", "k-299", 0)]), [true]);
        const events = Array.from({ length: 300 }, (_, i) => accepted("t", `k-${i}`, i));
        const stored = await sink.writeOnce(events);
        assert.deepEqual(stored, events.map((_, i) => i !== 299));
        assert.deepEqual(await sink.writeOnce([accepted("t", "k-300", 300)]), [true]);
        assert.deepEqual(await sink.writeOnce([accepted("t", "k-300", 301)]), [false]);
        assert.deepEqual(await rowsAndKeys(sql, table), { events: 301, keys: 301 });
      } finally {
        await sink.close();
      }
    }),
});

Deno.test({
  name: "receivers writing overlapping keys at once store each key once and report it new once",
  ignore,
  fn: () =>
    withTable(async (table, sql) => {
      const sinks = await Promise.all(
        Array.from({ length: 3 }, () => PostgresSink.connect(url!, { table })),
      );
      try {
        // Each write shares half its keys with the next one's.
        const writes = Array.from(
          { length: 12 },
          (_, w) => Array.from({ length: 200 }, (_, i) => accepted("t", `k-${w * 100 + i}`, i)),
        );
        const answers = await Promise.all(
          writes.map((events, w) => sinks[w % sinks.length]!.writeOnce(events)),
        );
        const newKeys = writes.flatMap((events, w) =>
          events.filter((_, i) => answers[w]![i]).map((e) => e.key)
        );
        assert.equal(newKeys.length, 1_300);
        assert.equal(new Set(newKeys).size, 1_300);
        assert.deepEqual(await rowsAndKeys(sql, table), { events: 1_300, keys: 1_300 });
      } finally {
        await Promise.all(sinks.map((sink) => sink.close()));
      }
    }),
});

Deno.test({
  name: "a write larger than maxRowsPerInsert is several inserts in one transaction",
  ignore,
  fn: () =>
    withTable(async (table, sql) => {
      const sink = await PostgresSink.connect(url!, { table, maxRowsPerInsert: 100 });
      try {
        const events = Array.from({ length: 250 }, (_, i) => accepted("t", `k-${i}`, i));
        assert.equal((await sink.writeOnce(events)).filter(Boolean).length, 250);
        assert.equal((await sink.writeOnce(events)).filter(Boolean).length, 0);
        // A failure in the third insert rolls back the first two.
        await sql.unsafe(
          `alter table ${table} add constraint small_n check ((event->>'n')::int < 450)`,
        );
        const more = Array.from({ length: 250 }, (_, i) => accepted("t", `m-${i}`, 250 + i));
        await assert.rejects(sink.writeOnce(more), /small_n/);
        const [row] = await sql.unsafe(`select count(*)::int as n from ${table}`);
        assert.equal(row!.n, 250);
      } finally {
        await sink.close();
      }
    }),
});

Deno.test("misconfigured PostgreSQL sinks fail in the constructor", async () => {
  const fakeSql = {} as postgres.Sql;
  assert.throws(
    () => new PostgresSink(fakeSql, { table: "events; drop table x" }),
    (error: Error) =>
      error instanceof TypeError && /'table' must be a table name/.test(error.message),
  );
  assert.throws(() => new PostgresSink(fakeSql, { maxRowsPerInsert: 0 }), RangeError);
  await assert.rejects(PostgresSink.connect("mysql://localhost/x"), TypeError);
});

Deno.test({
  name: "receivers starting together on a new table all start (the table is created once)",
  ignore,
  fn: () =>
    withTable(async (table, sql) => {
      const sinks = await Promise.all(
        Array.from({ length: 6 }, () => PostgresSink.connect(url!, { table })),
      );
      try {
        const rows = await sql`select count(*)::int as count from pg_class
          where relname = ${table} and relkind = 'r'`;
        assert.equal(rows[0]?.count, 1);
      } finally {
        await Promise.all(sinks.map((sink) => sink.close()));
      }
    }),
});
