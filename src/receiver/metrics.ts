import type { ReceiverStats, RequestReport } from "./receiver.ts";

/** Options of {@linkcode ReceiverMetrics}. */
export interface ReceiverMetricsOptions {
  /** Upper bounds of the latency histogram's buckets, seconds. @default {[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]} */
  buckets?: readonly number[];
  /** Prefix of every metric name. @default {"idemtrack_receiver_"} */
  prefix?: string;
}

/** Defaults of {@linkcode ReceiverMetricsOptions}. */
export const DEFAULT_RECEIVER_METRICS_OPTIONS: Readonly<Required<ReceiverMetricsOptions>> = Object
  .freeze({
    buckets: Object.freeze([
      0.001,
      0.0025,
      0.005,
      0.01,
      0.025,
      0.05,
      0.1,
      0.25,
      0.5,
      1,
      2.5,
      5,
      10,
    ]),
    prefix: "idemtrack_receiver_",
  });

interface Histogram {
  readonly counts: number[];
  sum: number;
  count: number;
}

/** A label value escaped for the text format (backslash, double quote, newline). */
function escape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(pairs: Record<string, string>): string {
  const text = Object.entries(pairs).map(([name, value]) => `${name}="${escape(value)}"`);
  return text.length === 0 ? "" : `{${text.join(",")}}`;
}

/**
 * Counts what a receiver does and renders it in the Prometheus text format
 * (version 0.0.4): requests by route, method and status; events accepted,
 * duplicate and rejected (by reason); body bytes; a latency histogram; store
 * and sink failures, requests in flight, refused and timed out. Feed it with
 * the receiver's `onRequest`, and serve {@linkcode ReceiverMetrics.render}
 * at `/metrics`.
 *
 * @example Usage
 * ```ts
 * import { ReceiverMetrics } from "./metrics.ts";
 * import { createReceiver } from "./receiver.ts";
 * import { callbackSink } from "./sink.ts";
 * import assert from "node:assert/strict";
 *
 * const metrics = new ReceiverMetrics();
 * const receiver = createReceiver({ sink: callbackSink(() => {}), onRequest: (r) => metrics.observe(r) });
 * await receiver(new Request("http://localhost/nowhere", { method: "POST" }));
 * const text = metrics.render(receiver.stats);
 * assert.match(text, /idemtrack_receiver_requests_total\{route="",method="POST",status="404"\} 1/);
 * ```
 */
export class ReceiverMetrics {
  readonly #buckets: readonly number[];
  readonly #prefix: string;
  readonly #requests = new Map<string, number>();
  readonly #events = new Map<string, number>();
  readonly #bodyBytes = new Map<string, number>();
  readonly #latency = new Map<string, Histogram>();

  /** Empty counters; bad buckets throw a RangeError, a bad prefix a TypeError. */
  constructor(options: ReceiverMetricsOptions = {}) {
    const {
      buckets = DEFAULT_RECEIVER_METRICS_OPTIONS.buckets,
      prefix = DEFAULT_RECEIVER_METRICS_OPTIONS.prefix,
    } = options;
    if (
      buckets.length === 0 || buckets.some((b, i) => !(b > 0) || (i > 0 && b <= buckets[i - 1]!))
    ) {
      throw new RangeError(
        `Cannot create receiver metrics as 'buckets' must be increasing positive numbers: current value is ${
          JSON.stringify(buckets)
        }`,
      );
    }
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) {
      throw new TypeError(
        `Cannot create receiver metrics as 'prefix' must be a metric name prefix: current value is ${
          JSON.stringify(prefix)
        }`,
      );
    }
    this.#buckets = buckets;
    this.#prefix = prefix;
  }

  /** Counts one answered request. */
  observe(report: RequestReport): void {
    const route = report.route ?? "";
    const add = (map: Map<string, number>, key: string, n: number) => {
      if (n !== 0) map.set(key, (map.get(key) ?? 0) + n);
    };
    add(
      this.#requests,
      labels({ route, method: report.method, status: String(report.status) }),
      1,
    );
    add(this.#events, labels({ route, outcome: "accepted", reason: "" }), report.accepted);
    add(this.#events, labels({ route, outcome: "duplicate", reason: "" }), report.duplicates);
    for (const [reason, n] of Object.entries(report.rejected)) {
      add(this.#events, labels({ route, outcome: "rejected", reason }), n);
    }
    add(this.#bodyBytes, labels({ route }), report.bodyBytes);
    let histogram = this.#latency.get(route);
    if (histogram === undefined) {
      histogram = { counts: new Array(this.#buckets.length).fill(0), sum: 0, count: 0 };
      this.#latency.set(route, histogram);
    }
    const seconds = report.durationMs / 1000;
    const bucket = this.#buckets.findIndex((bound) => seconds <= bound);
    if (bucket >= 0) histogram.counts[bucket]!++;
    histogram.sum += seconds;
    histogram.count++;
  }

  /** The metrics in the Prometheus text format, with the receiver's own counters. */
  render(stats: Readonly<ReceiverStats>): string {
    const p = this.#prefix;
    const lines: string[] = [];
    const family = (name: string, type: string, help: string, samples: Iterable<string>) => {
      lines.push(`# HELP ${p}${name} ${help}`, `# TYPE ${p}${name} ${type}`);
      for (const sample of samples) lines.push(sample);
    };
    const samples = (name: string, map: Map<string, number>) =>
      [...map].map(([key, value]) => `${p}${name}${key} ${value}`);
    family("requests_total", "counter", "Requests answered, by route, method and status.", [
      ...samples("requests_total", this.#requests),
    ]);
    family("events_total", "counter", "Events by outcome (rejected ones by reason).", [
      ...samples("events_total", this.#events),
    ]);
    family("body_bytes_total", "counter", "Request body bytes read (after decompression).", [
      ...samples("body_bytes_total", this.#bodyBytes),
    ]);
    const latency: string[] = [];
    for (const [route, histogram] of this.#latency) {
      let cumulative = 0;
      this.#buckets.forEach((bound, i) => {
        cumulative += histogram.counts[i]!;
        latency.push(
          `${p}request_duration_seconds_bucket${
            labels({ route, le: String(bound) })
          } ${cumulative}`,
        );
      });
      latency.push(
        `${p}request_duration_seconds_bucket${labels({ route, le: "+Inf" })} ${histogram.count}`,
        `${p}request_duration_seconds_sum${labels({ route })} ${histogram.sum}`,
        `${p}request_duration_seconds_count${labels({ route })} ${histogram.count}`,
      );
    }
    family("request_duration_seconds", "histogram", "Time to answer a request.", latency);
    const counter = (name: string, help: string, value: number) =>
      family(name, "counter", help, [`${p}${name} ${value}`]);
    counter("store_errors_total", "Dedupe store operations that failed.", stats.storeFailures);
    counter("sink_errors_total", "Sink writes that failed (answered 503).", stats.sinkFailures);
    counter(
      "overloaded_total",
      "Requests refused because too many were in progress.",
      stats.overloaded,
    );
    counter("body_timeouts_total", "Bodies not received in time (408).", stats.timedOut);
    family("requests_in_flight", "gauge", "Requests being handled.", [
      `${p}requests_in_flight ${stats.inFlight}`,
    ]);
    family(
      "requests_waiting",
      "gauge",
      "Requests with their body read, waiting for maxProcessingBytes.",
      [
        `${p}requests_waiting ${stats.waiting}`,
      ],
    );
    return lines.join("\n") + "\n";
  }
}
