// OpenTelemetry with the official API and SDK from npm: trace ids of the active span stamped on
// events, and a client's counters read by a real metric reader (portable: runs under Node too).
import assert from "node:assert/strict";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { Client } from "../mod.ts";
import { observeClientStats, traceContext } from "../src/controls/mod.ts";
import { startCollector } from "./_controls_collector.ts";

Deno.test("traceContext stamps the active span's trace and span ids on events tracked inside it", async () => {
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  const collector = await startCollector();
  const c = new Client({
    endpoint: collector.url,
    exitHook: false,
    flushAt: Infinity,
    middleware: [traceContext(trace)],
  });
  try {
    const span = trace.wrapSpanContext({
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
      traceFlags: 1,
    });
    context.with(trace.setSpan(context.active(), span), () => {
      c.track("order_paid", { total: 42 }, { userId: "u1", context: { locale: "fr" } });
    });
    c.track("outside_any_span", {}, { userId: "u1" });
    await c.flush();
    assert.deepEqual(collector.events[0]!.context, {
      locale: "fr",
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
    });
    assert.equal(collector.events[1]!.context, undefined);
  } finally {
    await c.close();
    await collector.close();
    context.disable();
  }
});

Deno.test("observeClientStats exports the client's counters through an OpenTelemetry metric reader", async () => {
  const collector = await startCollector();
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });
  const provider = new MeterProvider({ readers: [reader] });
  const c = new Client({
    endpoint: collector.url,
    exitHook: false,
    flushAt: Infinity,
    middleware: [(event) => (event.name === "noise" ? null : event)],
  });
  const stop = observeClientStats(provider.getMeter("idemtrack"), c);
  try {
    c.track("order_paid", {}, { userId: "u1" });
    c.track("order_paid", {}, { userId: "u2" });
    c.track("noise", {}, { userId: "u1" });
    await c.flush();
    c.track("waiting", {}, { userId: "u1" });
    const { resourceMetrics, errors } = await reader.collect();
    assert.deepEqual(errors, []);
    const values = new Map(
      resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).map((metric) => [
        metric.descriptor.name,
        metric.dataPoints[0]!.value,
      ]),
    );
    assert.equal(values.get("idemtrack.events.delivered"), 2);
    assert.equal(values.get("idemtrack.events.filtered"), 1);
    assert.equal(values.get("idemtrack.events.queued"), 1);
    assert.equal(values.get("idemtrack.requests"), 1);
    assert.equal(values.get("idemtrack.events.tracked"), 3);
    stop(); // the reader no longer reads the client: its figures stay where they were
    c.track("after_stop", {}, { userId: "u1" });
    const after = await reader.collect();
    const tracked = after.resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics)
      .find((metric) => metric.descriptor.name === "idemtrack.events.tracked");
    assert.equal(tracked?.dataPoints[0]?.value ?? 3, 3);
    assert.equal(c.stats().tracked, 4);
  } finally {
    await provider.shutdown();
    await c.close();
    await collector.close();
  }
});
