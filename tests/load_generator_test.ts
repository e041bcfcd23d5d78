/**
 * The load generator against an in-process demo server: every update delivered to its whole
 * room and accounted for, in both kinds and over both transports; connection failures, UDP
 * paths that do not open, disconnects and losses counted; an interrupted run; the bench relay's
 * delivery classes; the send schedule; the report's forms. With chaos: connections cut through
 * the chaos relay, every session resumed with nothing lost or duplicated (and, against a server
 * that keeps no sessions, the losses counted); the relay itself; the duplicate check.
 */

import assert from "node:assert/strict";
import dgram from "node:dgram";
import { createDemoServer, type DemoServerOptions } from "../cli/demo_server.ts";
import {
  type ClientSocket,
  type Delivery,
  GameSocketClient,
  message,
  SchemaMessage,
  type UdpState,
} from "../client.ts";
import {
  BENCH_NAMESPACE,
  BENCH_SCHEMAS,
  BenchUpdate,
  sequenceOf,
  setSequence,
} from "../load/bench_update.ts";
import { ChaosRelay } from "../load/chaos_relay.ts";
import { DeliveryTracker, MAX_TRACKED_PAIRS } from "../load/delivery_tracker.ts";
import { LatencyHistogram } from "../load/latency_histogram.ts";
import { type LoadReport, runLoad } from "../load/load_generator.ts";
import {
  type ChaosReport,
  errorRate,
  formatChaos,
  formatErrors,
  formatSummary,
  reportToJson,
} from "../load/load_report.ts";
import { decodeFrame, encodeFrame } from "../protocol/mod.ts";
import { runSchedule, scheduledCount } from "../load/send_schedule.ts";
import { GameSocketServer } from "../server.ts";
import { within } from "./within.ts";

/** The demo server of `deno task serve`, on 127.0.0.1 port 0, closed with `await using`. */
async function demoServer(
  options: DemoServerOptions = {},
): Promise<{ server: GameSocketServer; port: number } & AsyncDisposable> {
  const server = createDemoServer({ hostname: "127.0.0.1", port: 0, log: () => {}, ...options });
  const { port } = await server.listen();
  return { server, port, [Symbol.asyncDispose]: () => server.close() };
}

/** A UDP port on 127.0.0.1 with nothing bound: one that was free a moment ago. */
async function closedUdpPort(): Promise<number> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Resolves when a client's UDP path is open; rejects when it fails or takes too long. */
// deno-lint-ignore no-explicit-any
function udpOpen(client: GameSocketClient<any, any>): Promise<void> {
  if (client.udp?.state === "open") return Promise.resolve();
  return within(
    new Promise<void>((resolve, reject) => {
      const settle = (state: UdpState) => {
        if (state === "binding") return;
        client.off("udp_state", settle);
        if (state === "open") resolve();
        else reject(new Error(`The UDP path went ${state}`));
      };
      client.on("udp_state", settle);
    }),
    "the UDP path to open",
  );
}

/** A port on 127.0.0.1 with nothing listening: one that was free a moment ago. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

function assertConsistent(report: LoadReport): void {
  const { p50, p90, p99, max } = report.latency_ms;
  assert.ok(0 <= p50 && p50 <= p90 && p90 <= p99 && p99 <= max, JSON.stringify(report.latency_ms));
  assert.equal(report.histogram.count, report.received);
  assert.equal(report.lost, Math.max(0, report.expected - report.received));
  assert.ok(report.window_s > 0 && Number.isFinite(report.window_s));
  assert.ok(report.gen_cpu_util >= 0 && Number.isFinite(report.gen_cpu_util));
  assert.ok(report.send_lag_max_ms >= 0);
}

for (const kind of ["message", "event"] as const) {
  Deno.test(`runLoad (${kind}s) delivers every update to its sender's whole room`, async () => {
    await using demo = await demoServer();
    const report = await runLoad({
      host: "127.0.0.1",
      port: demo.port,
      clients: 20,
      rooms: 4,
      rate: 20,
      duration: 1,
      kind,
    });
    console.log(
      JSON.stringify(reportToJson(report), (key, value) => key === "histogram" ? undefined : value),
    );
    assert.equal(report.clients, 20);
    assert.equal(report.connected, 20);
    assert.equal(report.failed, 0);
    assert.deepEqual(report.errors, {});
    // 20 clients × 20 Hz × 1 s: sends 0..399 at j/400 s, each client sending 20.
    assert.equal(report.sent, 400);
    // Four rooms of five: each send is expected five times, the sender included.
    assert.equal(report.expected, 2000);
    assert.equal(report.received, 2000);
    assert.equal(report.lost, 0);
    assert.equal(report.interrupted, false);
    assert.ok(report.latency_ms.max > 0);
    assert.ok(report.msgs_per_s > 0);
    assertConsistent(report);
  });
}

for (const kind of ["message", "event"] as const) {
  Deno.test(`runLoad over UDP (${kind}s) sends and relays every update as a datagram`, async () => {
    await using demo = await demoServer({ udp: true });
    const report = await runLoad({
      host: "127.0.0.1",
      port: demo.port,
      clients: 20,
      rooms: 4,
      rate: 20,
      duration: 1,
      kind,
      transport: "udp",
    });
    console.log(
      JSON.stringify(reportToJson(report), (key, value) => key === "histogram" ? undefined : value),
    );
    assert.equal(report.transport, "udp");
    assert.equal(report.connected, 20);
    assert.equal(report.failed, 0);
    assert.deepEqual(report.errors, {});
    assert.equal(report.sent, 400);
    assert.equal(report.sent_udp, 400, "every update left as a datagram");
    assert.equal(report.expected, 2000);
    // Loopback at this rate loses nothing; a loss here would be a bug, not the network.
    assert.equal(report.received, 2000);
    assert.equal(report.received_udp, 2000, "every delivery arrived as a datagram");
    assert.equal(report.lost, 0);
    assert.deepEqual(report.udp_dropped, {});
    // The server heard the updates and relayed them over UDP.
    const udp = demo.server.stats.udp!;
    assert.ok(udp.received >= 400, `the server received ${udp.received} datagrams`);
    assert.ok(udp.sent > 0 && udp.bytesOut > 0, `the server sent ${udp.sent} datagrams`);
    assertConsistent(report);
  });
}

Deno.test("runLoad over TCP opens no UDP path, even where the server offers one", async () => {
  await using demo = await demoServer({ udp: true });
  const report = await runLoad({
    host: "127.0.0.1",
    port: demo.port,
    clients: 4,
    rooms: 2,
    rate: 10,
    duration: 0.5,
  });
  assert.equal(report.transport, "tcp");
  assert.equal(report.received, report.expected);
  assert.equal(report.sent_udp, 0);
  assert.equal(report.received_udp, 0);
  assert.equal(demo.server.stats.udp!.received, 0);
});

Deno.test("runLoad over UDP counts a server without UDP as failures: udp: not offered", async () => {
  await using demo = await demoServer();
  const report = await runLoad({
    host: "127.0.0.1",
    port: demo.port,
    clients: 3,
    rooms: 1,
    rate: 10,
    duration: 0.1,
    transport: "udp",
  });
  assert.equal(report.connected, 0);
  assert.equal(report.failed, 3);
  assert.deepEqual(report.errors, { "udp: not offered": 3 });
  assert.equal(report.sent, 0);
  assert.equal(errorRate(report), 1);
});

Deno.test("runLoad over UDP counts clients whose path does not open in time: udp: timeout", async () => {
  // The server announces a UDP port where nothing listens: no hello is ever answered.
  await using demo = await demoServer({ udp: { publicPort: await closedUdpPort() } });
  const started = performance.now();
  const report = await runLoad({
    host: "127.0.0.1",
    port: demo.port,
    clients: 3,
    rooms: 1,
    rate: 10,
    duration: 0.1,
    transport: "udp",
    udpTimeout: 0.3,
  });
  assert.ok(performance.now() - started < 3000, "the wait is bounded by udpTimeout");
  assert.equal(report.connected, 0);
  assert.equal(report.failed, 3);
  assert.deepEqual(report.errors, { "udp: timeout": 3 });
  assert.equal(report.sent, 0);
});

Deno.test("the bench relay forwards each update with the delivery class it came with", async () => {
  await using demo = await demoServer({ udp: true });
  interface BenchEvents {
    update: (update: SchemaMessage<typeof value>) => void;
  }
  const value = { id: 1, x: 2, y: 3, angle: 0, health: 1, alive: true, firing: false, t: 0 };
  const join = async (client: GameSocketClient<BenchEvents, BenchEvents>) => {
    await client.connect("127.0.0.1", demo.port);
    await udpOpen(client);
    const socket = await within(client.of(BENCH_NAMESPACE, { schemas: BENCH_SCHEMAS }).ready);
    await within(socket.join("r0"));
    return socket;
  };
  await using sender = new GameSocketClient<BenchEvents, BenchEvents>();
  await using receiver = new GameSocketClient<BenchEvents, BenchEvents>();
  const [from, to] = await Promise.all([join(sender), join(receiver)]);
  const arrivals: string[] = [];
  let arrived: () => void = () => {};
  const record = (what: string) => {
    arrivals.push(what);
    arrived();
  };
  to.onMessage(BenchUpdate, (update, info) => record(`message ${update.x} ${info.delivery}`));
  to.on("update", (update, info) => {
    assert.ok(update instanceof SchemaMessage);
    record(`event ${update.value.x} ${info.delivery ?? "tcp"}`);
  });
  const cases: [
    string,
    (socket: ClientSocket<BenchEvents, BenchEvents>, delivery: Delivery) => string,
  ][] = [
    ["message", (socket, delivery) => socket.send(BenchUpdate, value, { delivery })],
    [
      "event",
      (socket, delivery) => socket.emit("update", message(BenchUpdate, value), { delivery }),
    ],
  ];
  // One at a time, each awaited, so that an unreliable one cannot overtake a reliable one.
  for (const [kind, send] of cases) {
    for (const delivery of ["reliable", "unreliable", "sequenced"] as const) {
      value.x++;
      const heard = new Promise<void>((resolve) => arrived = resolve);
      const status = send(from, delivery);
      assert.equal(status, delivery === "reliable" ? "sent" : "sent_udp", `${kind} ${delivery}`);
      await within(heard, `the ${delivery} ${kind}`);
    }
  }
  assert.deepEqual(arrivals, [
    "message 3 reliable",
    "message 4 unreliable",
    "message 5 sequenced",
    "event 6 tcp",
    "event 7 unreliable",
    "event 8 sequenced",
  ]);
});

Deno.test("runLoad expects each send as many times as its sender's room has members", async () => {
  await using demo = await demoServer();
  // Rooms r0, r1, r2 of 4, 3 and 3 clients; each client sends 10 times.
  const window: string[] = [];
  const report = await runLoad({
    host: "127.0.0.1",
    port: demo.port,
    clients: 10,
    rooms: 3,
    rate: 10,
    duration: 1,
    onWindowStart: () => window.push(`start, ${demo.server.of(BENCH_NAMESPACE).sockets.size} in`),
    onWindowEnd: () => window.push(`end, ${demo.server.of(BENCH_NAMESPACE).sockets.size} in`),
  });
  assert.deepEqual(window, ["start, 10 in", "end, 10 in"]);
  assert.equal(report.sent, 100);
  assert.equal(report.expected, 10 * (4 * 4 + 3 * 3 + 3 * 3));
  assert.equal(report.received, report.expected);
  assert.deepEqual(report.errors, {});
});

Deno.test("runLoad counts connection failures by ConnectError code", async () => {
  const report = await runLoad({
    host: "127.0.0.1",
    port: closedPort(),
    clients: 5,
    rooms: 2,
    rate: 20,
    duration: 0.1,
  });
  assert.equal(report.connected, 0);
  assert.equal(report.failed, 5);
  assert.deepEqual(report.errors, { transport: 5 });
  assert.equal(report.sent, 0);
  assert.equal(report.expected, 0);
  assert.equal(report.lost, 0);
  assert.equal(errorRate(report), 5 / 5);
});

Deno.test("runLoad counts a refused namespace as a failure with its code", async () => {
  await using demo = await demoServer();
  const report = await runLoad({
    host: "127.0.0.1",
    port: demo.port,
    namespace: "/nowhere",
    clients: 3,
    rooms: 1,
    rate: 10,
    duration: 0.1,
  });
  assert.equal(report.failed, 3);
  assert.deepEqual(report.errors, { invalid_namespace: 3 });
});

Deno.test("runLoad counts as lost the deliveries a server never relays, outside the window", async () => {
  await using server = new GameSocketServer({ hostname: "127.0.0.1", port: 0 });
  server.of(BENCH_NAMESPACE, { schemas: BENCH_SCHEMAS }); // accepts updates, relays nothing
  const { port } = await server.listen();
  const report = await runLoad({
    host: "127.0.0.1",
    port,
    clients: 4,
    rooms: 2,
    rate: 10,
    duration: 0.5,
    drain: 1,
  });
  assert.equal(report.sent, 20);
  assert.equal(report.expected, 40);
  assert.equal(report.received, 0);
  assert.equal(report.lost, 40);
  // The window ends with the sending (nothing arrived after it), not with the drain's wait.
  assert.ok(report.window_s >= 0.45 && report.window_s < 1, `window_s ${report.window_s}`);
  assert.deepEqual(report.errors, {});
  assert.equal(errorRate(report), 40 / (40 + 4));
  assert.match(formatErrors(report).at(-1)!, /^messages lost: 40 of 40 expected \(100\.00 %\)$/);
});

Deno.test("runLoad counts disconnects by reason when the server goes away mid-run", async () => {
  await using demo = await demoServer();
  let closing: Promise<void> | undefined;
  const report = await runLoad({
    host: "127.0.0.1",
    port: demo.port,
    clients: 6,
    rooms: 2,
    rate: 20,
    duration: 0.6,
    drain: 0.2,
    progressInterval: 50,
    onProgress: (progress) => {
      if (progress.sent > 0) closing ??= demo.server.close();
    },
  });
  await closing;
  assert.equal(report.connected, 6);
  assert.equal(report.errors["disconnect: server shutting down"], 6);
  assert.ok(report.sent > 0 && report.sent < 72, `sent ${report.sent}`);
  assert.ok(errorRate(report) > 0);
});

Deno.test("runLoad stops sending when aborted, reports, and closes every client", async () => {
  await using demo = await demoServer();
  const controller = new AbortController();
  const progress: number[] = [];
  const report = await runLoad({
    host: "127.0.0.1",
    port: demo.port,
    clients: 4,
    rooms: 1,
    rate: 20,
    duration: 60,
    progressInterval: 100,
    signal: controller.signal,
    onProgress: ({ sent }) => {
      progress.push(sent);
      if (sent > 0) controller.abort();
    },
  });
  assert.equal(report.interrupted, true);
  assert.ok(report.sent > 0 && report.sent < 4 * 20 * 60, `sent ${report.sent}`);
  assert.equal(report.lost, 0);
  assert.equal(report.received, report.expected);
  assert.deepEqual(report.errors, {});
});

Deno.test("runLoad rejects options out of bounds before connecting", async () => {
  const base = { host: "127.0.0.1", port: 3103, clients: 1, rooms: 1, rate: 1, duration: 1 };
  await assert.rejects(runLoad({ ...base, clients: 0 }), RangeError);
  await assert.rejects(runLoad({ ...base, clients: 20_001 }), RangeError);
  await assert.rejects(runLoad({ ...base, clients: 1.5 }), RangeError);
  await assert.rejects(runLoad({ ...base, rate: 0 }), RangeError);
  await assert.rejects(runLoad({ ...base, duration: 3601 }), RangeError);
  await assert.rejects(runLoad({ ...base, port: 0 }), RangeError);
  await assert.rejects(runLoad({ ...base, drain: -1 }), RangeError);
  await assert.rejects(runLoad({ ...base, host: "" }), TypeError);
  await assert.rejects(runLoad({ ...base, namespace: "bench" }), TypeError);
  // @ts-expect-error: the kind is checked at run time too
  await assert.rejects(runLoad({ ...base, kind: "datagram" }), TypeError);
  // @ts-expect-error: the transport is checked at run time too
  await assert.rejects(runLoad({ ...base, transport: "quic" }), TypeError);
  await assert.rejects(runLoad({ ...base, udpTimeout: 0 }), RangeError);
  await assert.rejects(runLoad({ ...base, chaos: { rate: 0 } }), RangeError);
  await assert.rejects(runLoad({ ...base, chaos: { rate: 1001 } }), RangeError);
  await assert.rejects(runLoad({ ...base, chaos: { rate: 1, seed: -1 } }), RangeError);
  await assert.rejects(runLoad({ ...base, chaos: { rate: 1, seed: 2 ** 32 } }), RangeError);
  await assert.rejects(runLoad({ ...base, chaos: { rate: 1 }, transport: "udp" }), TypeError);
  // 5000 clients in one room: 25 million pairs to check for duplicates.
  await assert.rejects(runLoad({ ...base, clients: 5000, chaos: { rate: 1 } }), RangeError);
});

Deno.test("scheduledCount rounds senders × rate × duration up, without float noise", () => {
  assert.equal(scheduledCount(20, 20, 1), 400);
  assert.equal(scheduledCount(200, 20, 5), 20_000);
  assert.equal(scheduledCount(3, 0.1, 10), 3); // 3.0000000000000004 in floating point
  assert.equal(scheduledCount(3, 0.5, 1), 2); // sends at 0 s and 2/3 s
  assert.equal(scheduledCount(1, 1, 0.5), 1);
});

Deno.test("runSchedule fires every event in order and none before it is due", async () => {
  const fired: { j: number; at: number }[] = [];
  const result = await runSchedule(50, 1, (j) => fired.push({ j, at: performance.now() }));
  assert.equal(result.fired, 50);
  assert.deepEqual(fired.map(({ j }) => j), Array.from({ length: 50 }, (_, j) => j));
  for (const { j, at } of fired) assert.ok(at - result.start >= j * 1 - 0.01, `event ${j} early`);
  assert.ok(result.end - result.start >= 49);
  assert.ok(result.lagMax >= 0);
});

Deno.test("runSchedule stops when its signal aborts, and rejects when an event throws", async () => {
  const controller = new AbortController();
  const result = await runSchedule(
    1000,
    1,
    (j) => j === 9 && controller.abort(),
    controller.signal,
  );
  assert.equal(result.fired, 10);
  await assert.rejects(
    runSchedule(10, 1, (j) => {
      if (j === 3) throw new RangeError("bad value");
    }),
    RangeError,
  );
  await assert.rejects(runSchedule(-1, 1, () => {}), RangeError);
  await assert.rejects(runSchedule(1, 0, () => {}), RangeError);
});

function sampleReport(overrides: Partial<LoadReport> = {}): LoadReport {
  const histogram = new LatencyHistogram();
  for (const ms of [0.3, 0.4, 0.5, 2.5, 9]) histogram.record(ms);
  return {
    transport: "tcp",
    clients: 10,
    addresses: 1,
    connected: 8,
    failed: 2,
    sent: 100,
    sent_udp: 0,
    expected: 400,
    received: 395,
    received_udp: 0,
    udp_dropped: {},
    lost: 5,
    errors: { transport: 2, "disconnect: transport error": 1 },
    msgs_per_s: 1234.56,
    latency_ms: { p50: 0.5, p90: 9, p99: 9, max: 9 },
    gen_cpu_util: 0.12345,
    send_lag_max_ms: 2.345,
    window_s: 1.5,
    interrupted: false,
    histogram,
    ...overrides,
  };
}

Deno.test("errorRate counts failed connections once, other errors and lost deliveries", () => {
  // (2 failed + 1 disconnect + 5 lost) / (400 expected + 10 clients)
  assert.equal(errorRate(sampleReport()), 8 / 410);
  assert.equal(
    errorRate(sampleReport({ failed: 0, errors: {}, lost: 0, expected: 0, clients: 0 })),
    0,
  );
});

Deno.test("formatSummary has one row per figure", () => {
  const lines = formatSummary(sampleReport());
  const names = lines.map((line) => line.split(/\s{2,}/)[0]);
  assert.deepEqual(names, [
    "transport",
    "clients",
    "connected",
    "failed",
    "sent",
    "expected",
    "received",
    "lost",
    "msgs/s",
    "latency p50",
    "latency p90",
    "latency p99",
    "latency max",
    "gen_cpu_util",
    "send_lag_max_ms",
    "window_s",
  ]);
  assert.match(lines[0]!, /^transport\s+tcp$/);
  assert.match(lines[8]!, /msgs\/s\s+1235$/);
  assert.match(lines[9]!, /latency p50\s+0\.5 ms$/);
  assert.match(formatSummary(sampleReport({ interrupted: true })).at(-1)!, /interrupted\s+yes/);
  assert.match(formatSummary(sampleReport({ addresses: 3 }))[2]!, /^source addresses\s+3$/);
});

Deno.test("formatSummary over UDP names the transport and what went by datagram", () => {
  const lines = formatSummary(sampleReport({ transport: "udp", sent_udp: 98, received_udp: 390 }));
  assert.match(lines[0]!, /^transport\s+udp \(unreliable datagrams\)$/);
  const rows = Object.fromEntries(lines.map((line) => line.split(/\s{2,}/)));
  assert.equal(rows["sent"], "100");
  assert.equal(rows["sent over UDP"], "98");
  assert.equal(rows["received"], "395");
  assert.equal(rows["received over UDP"], "390");
  assert.ok(!formatSummary(sampleReport()).some((line) => line.includes("over UDP")));
});

Deno.test("formatErrors lists the reasons, most frequent first, then the losses", () => {
  assert.deepEqual(formatErrors(sampleReport()), [
    "errors by reason:",
    "  transport: 2",
    "  disconnect: transport error: 1",
    "messages lost: 5 of 400 expected (1.25 %)",
  ]);
  assert.equal(formatErrors(sampleReport({ errors: {} }))[0], "errors: none");
});

Deno.test("formatErrors over UDP says the losses were datagrams, and lists the clients' drops", () => {
  const lines = formatErrors(
    sampleReport({ transport: "udp", errors: {}, udp_dropped: { late: 2, replayed: 1 } }),
  );
  assert.deepEqual(lines, [
    "errors: none",
    "messages lost: 5 of 400 expected (1.25 %), sent as unreliable datagrams",
    "datagrams dropped by the clients: late 2, replayed 1",
  ]);
});

Deno.test("reportToJson has every figure, rounded, and survives JSON", () => {
  const json = JSON.parse(JSON.stringify(reportToJson(sampleReport())));
  for (
    const key of [
      "transport",
      "clients",
      "connected",
      "failed",
      "sent",
      "sent_udp",
      "expected",
      "received",
      "received_udp",
      "udp_dropped",
      "lost",
      "errors",
      "msgs_per_s",
      "latency_ms",
      "gen_cpu_util",
      "send_lag_max_ms",
      "window_s",
      "interrupted",
      "error_rate",
      "histogram",
    ]
  ) assert.ok(key in json, `no ${key}`);
  assert.deepEqual(json.latency_ms, { p50: 0.5, p90: 9, p99: 9, max: 9 });
  assert.equal(json.msgs_per_s, 1234.6);
  assert.equal(json.gen_cpu_util, 0.123);
  assert.deepEqual(json.errors, { transport: 2, "disconnect: transport error": 1 });
  assert.deepEqual(json.histogram, [
    { from_ms: 0.2, to_ms: 0.5, count: 2 },
    { from_ms: 0.5, to_ms: 1, count: 1 },
    { from_ms: 2, to_ms: 5, count: 1 },
    { from_ms: 5, to_ms: 10, count: 1 },
  ]);
});

Deno.test("runLoad with chaos cuts connections while sending; every session resumes, nothing lost or duplicated", async () => {
  await using demo = await demoServer();
  const report = await runLoad({
    host: "127.0.0.1",
    port: demo.port,
    clients: 20,
    rooms: 4,
    rate: 20,
    duration: 2,
    chaos: { rate: 10, seed: 42 },
  });
  const chaos = report.chaos!;
  console.log(JSON.stringify(chaos));
  // 10 cuts/s for 2 s, each on a live connection (a client back from a cut may be cut again).
  assert.ok(chaos.cuts >= 15 && chaos.cuts <= 20, `cuts ${chaos.cuts}`);
  // A cut can fall on a connection still resuming: one return for both cuts, then.
  assert.ok(chaos.reconnects >= 10 && chaos.reconnects <= chaos.cuts, `${chaos.reconnects}`);
  assert.equal(chaos.recovered, chaos.reconnects);
  assert.equal(chaos.expired, 0);
  assert.equal(chaos.reconnect_failed, 0);
  assert.equal(chaos.duplicates, 0);
  assert.equal(chaos.out_of_order, 0);
  assert.deepEqual(report.errors, {});
  // Emits made while reconnecting are kept and sent after: every one of the 800 was sent, and a
  // cut client stayed a member of its room throughout, so each send is expected five times.
  assert.equal(report.sent, 800);
  assert.equal(report.expected, 4000);
  assert.equal(report.received, 4000);
  assert.equal(report.lost, 0);
  assert.equal(errorRate(report), 0);
  assertConsistent(report);
});

Deno.test("runLoad with chaos against a server that keeps no sessions counts them expired, and the losses", async () => {
  await using demo = await demoServer({ recovery: false });
  const report = await runLoad({
    host: "127.0.0.1",
    port: demo.port,
    clients: 8,
    rooms: 1,
    rate: 20,
    duration: 1,
    drain: 1,
    chaos: { rate: 4 },
  });
  const chaos = report.chaos!;
  assert.ok(chaos.cuts >= 2, `cuts ${chaos.cuts}`);
  assert.ok(chaos.reconnects >= 1, `reconnects ${chaos.reconnects}`);
  assert.equal(chaos.recovered, 0);
  assert.equal(chaos.expired, chaos.reconnects);
  assert.equal(chaos.duplicates, 0);
  assert.equal(chaos.seed, 1);
  // What the room sent while a client was away never reached it.
  assert.ok(report.lost > 0, `lost ${report.lost}`);
  assert.ok(errorRate(report) > 0);
});

Deno.test("runLoad with chaos spreads the relay's connections to the server over the source addresses", async () => {
  await using demo = await demoServer();
  const seen = new Set<string>();
  demo.server.of(BENCH_NAMESPACE).on("connection", (socket) => {
    seen.add(socket.handshake.address.hostname);
  });
  const report = await runLoad({
    host: "127.0.0.1",
    port: demo.port,
    clients: 6,
    addresses: 3,
    rooms: 2,
    rate: 10,
    duration: 1,
    chaos: { rate: 2 },
  });
  assert.equal(report.addresses, 3);
  assert.equal(report.connected, 6);
  assert.equal(report.lost, 0);
  assert.deepEqual([...seen].sort(), ["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
  assert.throws(
    () => ChaosRelay.start({ targetHost: "127.0.0.1", targetPort: 1, rate: 1, localAddresses: [] }),
    TypeError,
  );
});

/** An echo server on 127.0.0.1: each connection gets back what it sends. */
function echoServer(): { port: number } & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.TcpConn>();
  const served: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      served.push(
        conn.readable.pipeTo(conn.writable).catch(() => {}).finally(() => conns.delete(conn)),
      );
    }
  })();
  return {
    port: listener.addr.port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed by its pipe already.
        }
      }
      await Promise.all(served);
    },
  };
}

/** Whether a relayed connection is still live: a byte sent comes back (or the end comes). */
async function echoes(conn: Deno.TcpConn): Promise<boolean> {
  try {
    await conn.write(new Uint8Array([7]));
    return await within(conn.read(new Uint8Array(1)), "an echo or the end") === 1;
  } catch {
    return false;
  }
}

/** Opens `count` connections through a relay, one after the other (so in a known order). */
async function openThrough(relay: ChaosRelay, count: number): Promise<Deno.TcpConn[]> {
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < count; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: relay.port });
    conns.push(conn);
    assert.ok(await echoes(conn), "a connection through the relay echoes");
  }
  return conns;
}

Deno.test("ChaosRelay cuts a random live connection, both sides at once, the same ones for the same seed", async () => {
  await using echo = echoServer();
  const cutWith = async (seed: number) => {
    await using relay = ChaosRelay.start({
      targetHost: "127.0.0.1",
      targetPort: echo.port,
      rate: 1,
      seed,
    });
    const conns = await openThrough(relay, 6);
    assert.equal(relay.open, 6);
    for (let i = 0; i < 3; i++) assert.ok(relay.cut());
    assert.equal(relay.cuts, 3);
    assert.equal(relay.open, 3);
    const live = await Promise.all(conns.map(echoes));
    for (const conn of conns) conn.close();
    return live;
  };
  const first = await cutWith(7);
  assert.equal(first.filter((live) => !live).length, 3);
  assert.deepEqual(await cutWith(7), first);
});

Deno.test("ChaosRelay cuts at its rate while cutting, and not before or after", async () => {
  await using echo = echoServer();
  await using relay = ChaosRelay.start({
    targetHost: "127.0.0.1",
    targetPort: echo.port,
    rate: 100,
  });
  const conns = await openThrough(relay, 4);
  assert.equal(relay.cuts, 0);
  const started = performance.now();
  relay.startCutting();
  // Each read ends when its connection is cut: four cuts, the k-th due k/100 s after the start.
  const ends = await within(
    Promise.all(conns.map((conn) => conn.read(new Uint8Array(1)).catch(() => null))),
    "four cuts",
  );
  const elapsed = performance.now() - started;
  relay.stopCutting();
  assert.deepEqual(ends, [null, null, null, null]);
  assert.equal(relay.cuts, 4);
  assert.ok(elapsed >= 35, `four cuts at 100/s took ${elapsed} ms`);
  const [late] = await openThrough(relay, 1);
  assert.equal(relay.cuts, 4);
  assert.equal(relay.cut(), true);
  assert.equal(relay.cut(), false, "nothing left to cut");
  late!.close();
  for (const conn of conns) conn.close();
});

Deno.test("ChaosRelay.start refuses a rate not above 0 and a seed outside 32 bits", () => {
  const target = { targetHost: "127.0.0.1", targetPort: 1 };
  assert.throws(() => ChaosRelay.start({ ...target, rate: 0 }), RangeError);
  assert.throws(() => ChaosRelay.start({ ...target, rate: Infinity }), RangeError);
  assert.throws(() => ChaosRelay.start({ ...target, rate: 1, seed: 1.5 }), RangeError);
  assert.throws(() => ChaosRelay.start({ ...target, rate: 1, seed: 2 ** 32 }), RangeError);
});

Deno.test("DeliveryTracker tells in-order, ahead, late and duplicate deliveries, per pair", () => {
  const tracker = new DeliveryTracker(6, 2); // rooms {0, 2, 4} and {1, 3, 5}
  assert.equal(tracker.record(0, 2, 0), "in_order");
  assert.equal(tracker.record(0, 2, 1), "in_order");
  // Another receiver, and another sender, count on their own.
  assert.equal(tracker.record(4, 2, 0), "in_order");
  assert.equal(tracker.record(0, 4, 0), "in_order");
  assert.equal(tracker.record(0, 2, 1), "duplicate");
  assert.equal(tracker.record(0, 2, 4), "ahead");
  assert.equal(tracker.record(0, 2, 3), "late");
  assert.equal(tracker.record(0, 2, 3), "duplicate");
  assert.equal(tracker.record(0, 2, 2), "late");
  assert.equal(tracker.record(0, 2, 5), "in_order");
  assert.equal(tracker.record(5, 3, 0), "in_order");
  assert.equal(tracker.duplicates, 2);
  assert.equal(tracker.outOfOrder, 2);
  assert.throws(() => new DeliveryTracker(MAX_TRACKED_PAIRS / 2 + 1, 1), RangeError);
});

Deno.test("a BenchUpdate carries its sequence number in x and y, at the same size", () => {
  const value = { id: 3, x: 0, y: 0, angle: 1.5, health: 1, alive: true, firing: false, t: 0 };
  const size = encodeFrame(BenchUpdate, value).length;
  for (const sequence of [0, 1, 32_767, 32_768, 65_535, 65_536, 3_600_000, 2 ** 31 - 1]) {
    setSequence(value, sequence);
    const frame = decodeFrame(encodeFrame(BenchUpdate, value), { schemas: BENCH_SCHEMAS });
    assert.ok(frame.type === "message");
    assert.equal(sequenceOf(frame.value as typeof value), sequence);
    assert.equal(encodeFrame(BenchUpdate, value).length, size);
  }
});

const sampleChaos: ChaosReport = {
  rate: 10,
  seed: 1,
  cuts: 20,
  reconnect_attempts: 21,
  reconnects: 20,
  recovered: 19,
  expired: 1,
  reconnect_failed: 0,
  duplicates: 2,
  out_of_order: 0,
};

Deno.test("formatChaos lists the cuts and what came of them; reportToJson and errorRate count them", () => {
  assert.deepEqual(formatChaos(sampleReport()), []);
  assert.deepEqual(formatChaos(sampleReport({ chaos: sampleChaos })), [
    "chaos: 10 cuts/s across all connections (seed 1)",
    "  cuts made               20",
    "  reconnect attempts      21",
    "  reconnections           20",
    "  sessions recovered      19",
    "  sessions expired        1",
    "  reliable messages lost  5",
    "  duplicates              2",
    "  out of order            0",
  ]);
  assert.equal(reportToJson(sampleReport()).chaos, null);
  const json = JSON.parse(JSON.stringify(reportToJson(sampleReport({ chaos: sampleChaos }))));
  assert.deepEqual(json.chaos, sampleChaos);
  // (2 failed + 1 disconnect + 5 lost + 2 duplicates) / (400 expected + 10 clients)
  assert.equal(errorRate(sampleReport({ chaos: sampleChaos })), 10 / 410);
});
