/**
 * What a load test found ({@linkcode LoadReport}), and its forms for people (a summary table, a
 * text histogram, errors and losses) and for machines (one JSON object).
 *
 * @module
 */

import { DEFAULT_BUCKET_EDGES, type LatencyHistogram } from "./latency_histogram.ts";
import type { LoadTransport } from "./load_options.ts";

/** Latency percentiles, in milliseconds. */
export interface LatencySummary {
  /** The median. */
  readonly p50: number;
  /** The 90th percentile. */
  readonly p90: number;
  /** The 99th percentile. */
  readonly p99: number;
  /** The largest latency, exactly. */
  readonly max: number;
}

/** What a load test with chaos (connections cut while sending) found. */
export interface ChaosReport {
  /** Cuts per second asked for. */
  readonly rate: number;
  /** The seed of the choice of connections to cut. */
  readonly seed: number;
  /** Connections cut. */
  readonly cuts: number;
  /** Reconnection attempts the clients made (`reconnect_attempt`). */
  readonly reconnect_attempts: number;
  /** Times a client was back after a cut (`reconnect`), its session resumed or not. */
  readonly reconnects: number;
  /** Sessions resumed (`reconnect` with `recovered`): same rooms, every frame replayed. */
  readonly recovered: number;
  /** Sessions the server could not resume (`session_expired`): the client went on in a fresh one. */
  readonly expired: number;
  /** Clients that gave up reconnecting (`reconnect_failed`). */
  readonly reconnect_failed: number;
  /** Deliveries received twice (the same sender's update, at the same receiver). */
  readonly duplicates: number;
  /** Deliveries that arrived after a later update of the same sender. */
  readonly out_of_order: number;
}

/** What a load test found. */
export interface LoadReport {
  /** The transport of the updates: `tcp`, or `udp` (unreliable datagrams). */
  readonly transport: LoadTransport;
  /** Clients the test was to connect. */
  readonly clients: number;
  /** Loopback source addresses the connections to the server came from (1: the system's choice). */
  readonly addresses: number;
  /** Clients that connected and joined their room (and, over UDP, whose UDP path opened). */
  readonly connected: number;
  /** Clients that could not connect or join, or whose UDP path did not open (each has one entry in `errors`). */
  readonly failed: number;
  /** Updates sent. */
  readonly sent: number;
  /**
   * Updates that left as UDP datagrams; the rest of `sent` went over TCP (the fallback of an
   * unreliable emit while a client's UDP path is not open). 0 over TCP.
   */
  readonly sent_udp: number;
  /** Deliveries expected: for each update sent, the members of its sender's room, sender included. */
  readonly expected: number;
  /** Deliveries received. */
  readonly received: number;
  /** Deliveries that arrived as UDP datagrams. 0 over TCP. */
  readonly received_udp: number;
  /**
   * Datagrams the clients dropped on arrival, summed over the clients, by reason (`late`,
   * `replayed`, `forged`, `oversized`, `truncated`, `unbound`, `invalid`); only reasons that
   * happened. Empty over TCP.
   */
  readonly udp_dropped: Readonly<Record<string, number>>;
  /** Deliveries expected and not received by the end of the drain. */
  readonly lost: number;
  /**
   * Errors by reason: a `ConnectError` code (`transport`, `timeout`, ...) for a failed connect,
   * `join: <code>` for a refused join, `udp: timeout`, `udp: failed` or `udp: not offered` for
   * a client whose UDP path did not open, `disconnect: <reason>` for a client that left during the
   * run (or, without chaos, whose connection dropped: it reconnects), `send: <status>` for a send
   * that was not `sent` (`send: offline queue full` for one made while reconnecting, past the
   * offline queue), `misrouted` for an update from another room, `unexpected payload` for an
   * `update` event without a BenchUpdate, `error: <name>` for an error a client reported.
   */
  readonly errors: Readonly<Record<string, number>>;
  /** Deliveries received per second over the window. */
  readonly msgs_per_s: number;
  /** Latency from send to receipt, in milliseconds. */
  readonly latency_ms: LatencySummary;
  /**
   * The load generator's own CPU time (user and system) from the first send to the end of the
   * drain, divided by that time: 1 is one core busy all the time. A server in the same process
   * counts too.
   */
  readonly gen_cpu_util: number;
  /** How far the send schedule fell behind at worst, in milliseconds (timer ticks included). */
  readonly send_lag_max_ms: number;
  /**
   * Seconds from the first send to the last delivery received (or to the end of sending, if
   * nothing arrived after it). A drain that waits in vain for lost deliveries does not count, so
   * `msgs_per_s` is the rate of what arrived.
   */
  readonly window_s: number;
  /** Whether the run was cut short (`signal` aborted, Ctrl-C). */
  readonly interrupted: boolean;
  /**
   * With `chaos`: the cuts and what came of them. `received` and `lost` then count each update at
   * each receiver once: a duplicate is counted here, not received again.
   */
  readonly chaos?: ChaosReport;
  /** Every latency recorded. */
  readonly histogram: LatencyHistogram;
}

/** A range of the histogram in {@linkcode LoadReportJson}. */
export interface HistogramBucketJson {
  /** The lower bound, in milliseconds. */
  from_ms: number;
  /** The upper bound, in milliseconds; `null` for no bound. */
  to_ms: number | null;
  /** How many latencies fell in the range. */
  count: number;
}

/** A {@linkcode LoadReport} as JSON: the same figures, rounded, with the histogram's non-empty ranges. */
export interface LoadReportJson {
  /** See {@linkcode LoadReport.transport}. */
  transport: LoadTransport;
  /** See {@linkcode LoadReport.clients}. */
  clients: number;
  /** See {@linkcode LoadReport.addresses}. */
  addresses: number;
  /** See {@linkcode LoadReport.connected}. */
  connected: number;
  /** See {@linkcode LoadReport.failed}. */
  failed: number;
  /** See {@linkcode LoadReport.sent}. */
  sent: number;
  /** See {@linkcode LoadReport.sent_udp}. */
  sent_udp: number;
  /** See {@linkcode LoadReport.expected}. */
  expected: number;
  /** See {@linkcode LoadReport.received}. */
  received: number;
  /** See {@linkcode LoadReport.received_udp}. */
  received_udp: number;
  /** See {@linkcode LoadReport.udp_dropped}. */
  udp_dropped: Record<string, number>;
  /** See {@linkcode LoadReport.lost}. */
  lost: number;
  /** See {@linkcode LoadReport.errors}. */
  errors: Record<string, number>;
  /** See {@linkcode LoadReport.msgs_per_s}. */
  msgs_per_s: number;
  /** See {@linkcode LoadReport.latency_ms}. */
  latency_ms: { p50: number; p90: number; p99: number; max: number };
  /** See {@linkcode LoadReport.gen_cpu_util}. */
  gen_cpu_util: number;
  /** See {@linkcode LoadReport.send_lag_max_ms}. */
  send_lag_max_ms: number;
  /** See {@linkcode LoadReport.window_s}. */
  window_s: number;
  /** See {@linkcode LoadReport.interrupted}. */
  interrupted: boolean;
  /** See {@linkcode LoadReport.chaos}; `null` without chaos. */
  chaos: ChaosReport | null;
  /** The error rate that `--max-error-rate` is compared with ({@linkcode errorRate}). */
  error_rate: number;
  /** The latency histogram's non-empty ranges. */
  histogram: HistogramBucketJson[];
}

/**
 * The share of things that went wrong: (failed connections + other errors + lost deliveries +
 * duplicates) / max(1, expected deliveries + clients). A failed connection's own entry in
 * `errors` is not counted twice.
 *
 * @param report The report.
 * @returns The rate, 0 when nothing went wrong.
 */
export function errorRate(report: LoadReport): number {
  let errors = 0;
  for (const count of Object.values(report.errors)) errors += count;
  const others = Math.max(0, errors - report.failed);
  const wrong = report.failed + others + report.lost + (report.chaos?.duplicates ?? 0);
  return wrong / Math.max(1, report.expected + report.clients);
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/**
 * A latency for people: three significant digits, with its unit.
 *
 * @param ms Milliseconds.
 * @returns For example "0.412 ms", "12.3 ms", "1520 ms".
 */
export function formatMs(ms: number): string {
  if (ms === 0) return "0 ms";
  if (ms >= 100) return `${Math.round(ms)} ms`;
  return `${Number(ms.toPrecision(3))} ms`;
}

/**
 * The summary table: one line per figure.
 *
 * @param report The report.
 * @returns The lines.
 *
 * @example
 * ```ts ignore
 * for (const line of formatSummary(await runLoad(options))) console.log(line);
 * ```
 */
export function formatSummary(report: LoadReport): string[] {
  const { latency_ms: latency } = report;
  const udp = report.transport === "udp";
  const rows: [string, string][] = [
    ["transport", udp ? "udp (unreliable datagrams)" : "tcp"],
    ["clients", String(report.clients)],
    ...(report.addresses > 1
      ? [["source addresses", String(report.addresses)] as [string, string]]
      : []),
    ["connected", String(report.connected)],
    ["failed", String(report.failed)],
    ["sent", String(report.sent)],
    ...(udp ? [["sent over UDP", String(report.sent_udp)] as [string, string]] : []),
    ["expected", String(report.expected)],
    ["received", String(report.received)],
    ...(udp ? [["received over UDP", String(report.received_udp)] as [string, string]] : []),
    ["lost", String(report.lost)],
    ["msgs/s", String(Math.round(report.msgs_per_s))],
    ["latency p50", formatMs(latency.p50)],
    ["latency p90", formatMs(latency.p90)],
    ["latency p99", formatMs(latency.p99)],
    ["latency max", formatMs(latency.max)],
    ["gen_cpu_util", report.gen_cpu_util.toFixed(2)],
    ["send_lag_max_ms", report.send_lag_max_ms.toFixed(1)],
    ["window_s", report.window_s.toFixed(2)],
  ];
  if (report.interrupted) rows.push(["interrupted", "yes"]);
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  return rows.map(([name, value]) => `${name.padEnd(width)}${value}`);
}

/** Options of {@linkcode formatHistogram}. */
export interface FormatHistogramOptions {
  /**
   * Upper bounds of the ranges, in milliseconds.
   *
   * @default {DEFAULT_BUCKET_EDGES (1-2-5 steps from 0.1 ms to 60 s)}
   */
  edges?: readonly number[];
  /**
   * Characters of the longest bar.
   *
   * @default {40}
   */
  width?: number;
}

/**
 * A text histogram of latencies: one line per range from the first non-empty one to the last,
 * with its count, its share and a bar.
 *
 * @param histogram The latencies.
 * @param options The ranges and the bar width.
 * @returns The lines; one line saying so when nothing was recorded.
 *
 * @example
 * ```ts
 * import { LatencyHistogram } from "./latency_histogram.ts";
 * import { formatHistogram } from "./load_report.ts";
 * import assert from "node:assert/strict";
 *
 * const histogram = new LatencyHistogram();
 * for (const ms of [0.3, 0.4, 0.45, 1.5]) histogram.record(ms);
 * const lines = formatHistogram(histogram, { width: 10 });
 * assert.equal(lines.length, 3); // 0.2–0.5, 0.5–1 and 1–2 ms
 * assert.equal(lines[0], "0.2 – 0.5 ms  3   75.0 %  ##########");
 * ```
 */
export function formatHistogram(
  histogram: LatencyHistogram,
  options: FormatHistogramOptions = {},
): string[] {
  const { edges = DEFAULT_BUCKET_EDGES, width = 40 } = options;
  const buckets = histogram.buckets(edges);
  const first = buckets.findIndex((bucket) => bucket.count > 0);
  if (first < 0) return ["no latencies recorded"];
  const last = buckets.findLastIndex((bucket) => bucket.count > 0);
  const shown = buckets.slice(first, last + 1);
  const most = Math.max(...shown.map((bucket) => bucket.count));
  const labels = shown.map(({ from, to }) =>
    to === Infinity ? `≥ ${from} ms` : from === 0 ? `< ${to} ms` : `${from} – ${to} ms`
  );
  const labelWidth = Math.max(...labels.map((label) => label.length));
  const countWidth = String(most).length;
  return shown.map((bucket, i) => {
    const share = (100 * bucket.count / histogram.count).toFixed(1).padStart(5);
    const bar = "#".repeat(Math.round(width * bucket.count / most));
    return `${labels[i]!.padStart(labelWidth)}  ${
      String(bucket.count).padStart(countWidth)
    }  ${share} %  ${bar}`.trimEnd();
  });
}

/**
 * The errors by reason (most frequent first), the deliveries lost and, over UDP, the datagrams
 * the clients dropped.
 *
 * @param report The report.
 * @returns The lines.
 */
export function formatErrors(report: LoadReport): string[] {
  const entries = Object.entries(report.errors).sort((a, b) => b[1] - a[1]);
  const lines = entries.length === 0 ? ["errors: none"] : [
    "errors by reason:",
    ...entries.map(([reason, count]) => `  ${reason}: ${count}`),
  ];
  const share = report.expected === 0
    ? ""
    : ` (${(100 * report.lost / report.expected).toFixed(2)} %)`;
  // Over UDP a lost datagram is lost for good: say so beside the count, rather than hide it.
  const how = report.transport === "udp" ? ", sent as unreliable datagrams" : "";
  lines.push(`messages lost: ${report.lost} of ${report.expected} expected${share}${how}`);
  const dropped = Object.entries(report.udp_dropped);
  if (dropped.length > 0) {
    lines.push(
      `datagrams dropped by the clients: ${
        dropped.map(([reason, count]) => `${reason} ${count}`).join(", ")
      }`,
    );
  }
  return lines;
}

/**
 * What the cuts of a run with chaos did: cuts, reconnections, sessions recovered and expired,
 * reliable messages lost and duplicated.
 *
 * @param report The report.
 * @returns The lines; none without chaos.
 *
 * @example
 * ```ts ignore
 * for (const line of formatChaos(await runLoad({ ...options, chaos: { rate: 10 } }))) {
 *   console.log(line);
 * }
 * ```
 */
export function formatChaos(report: LoadReport): string[] {
  const chaos = report.chaos;
  if (chaos === undefined) return [];
  const rows: [string, string][] = [
    ["cuts made", String(chaos.cuts)],
    ["reconnect attempts", String(chaos.reconnect_attempts)],
    ["reconnections", String(chaos.reconnects)],
    ["sessions recovered", String(chaos.recovered)],
    ["sessions expired", String(chaos.expired)],
    ...(chaos.reconnect_failed > 0
      ? [["reconnects failed", String(chaos.reconnect_failed)] as [string, string]]
      : []),
    ["reliable messages lost", String(report.lost)],
    ["duplicates", String(chaos.duplicates)],
    ["out of order", String(chaos.out_of_order)],
  ];
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  return [
    `chaos: ${chaos.rate} cuts/s across all connections (seed ${chaos.seed})`,
    ...rows.map(([name, value]) => `  ${name.padEnd(width)}${value}`),
  ];
}

/**
 * The report as one JSON-ready object (figures rounded; the histogram as its non-empty ranges).
 *
 * @param report The report.
 * @returns The object, for `JSON.stringify`.
 */
export function reportToJson(report: LoadReport): LoadReportJson {
  const { latency_ms: latency } = report;
  return {
    transport: report.transport,
    clients: report.clients,
    addresses: report.addresses,
    connected: report.connected,
    failed: report.failed,
    sent: report.sent,
    sent_udp: report.sent_udp,
    expected: report.expected,
    received: report.received,
    received_udp: report.received_udp,
    udp_dropped: { ...report.udp_dropped },
    lost: report.lost,
    errors: { ...report.errors },
    msgs_per_s: round(report.msgs_per_s, 1),
    latency_ms: {
      p50: round(latency.p50, 3),
      p90: round(latency.p90, 3),
      p99: round(latency.p99, 3),
      max: round(latency.max, 3),
    },
    gen_cpu_util: round(report.gen_cpu_util, 3),
    send_lag_max_ms: round(report.send_lag_max_ms, 2),
    window_s: round(report.window_s, 3),
    interrupted: report.interrupted,
    chaos: report.chaos === undefined ? null : { ...report.chaos },
    error_rate: errorRate(report),
    histogram: report.histogram.buckets().filter((bucket) => bucket.count > 0).map((bucket) => ({
      from_ms: bucket.from,
      to_ms: bucket.to === Infinity ? null : bucket.to,
      count: bucket.count,
    })),
  };
}
