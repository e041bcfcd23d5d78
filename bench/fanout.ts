/**
 * `deno task bench:fanout`: the benchmark the performance claims rest on, in the peer
 * benchmark's scenario (../shared/bench/peers): C clients on "/bench", client i in room
 * `r<i % R>`, each sending a BenchUpdate at RATE Hz, the server broadcasting each update to the
 * sender's whole room, sender included. The server runs as a direct child (`deno task serve`'s
 * code); its CPU time and RSS come from /proc, the bytes it wrote from its own counters. One JSON line, with the peer
 * benchmark's keys, so the two compare line by line.
 *
 * Modes: `fanout` (one measured run), `saturate` (the rate rises ×1.5 per step until p99 passes
 * 100 ms, more than 1% is lost, or deliveries stop growing by 5%), `idle` (N connections that
 * stay connected: the server's RSS per connection).
 *
 * The server keeps its default `maxConnectionsPerAddress` (256): the clients spread over
 * loopback source addresses 127.0.0.x, 200 per address, as `deno task stress` does.
 *
 * Session recovery is on, as by default on both sides: the clients reconnect and ask for
 * recoverable sessions, the server keeps them, and both confirm what they receive (`SessionAck`),
 * which `wire_bytes_in_per_sent` shows.
 *
 * With `--udp`, the clients send their updates `unreliable` once their UDP paths are open, and
 * the server relays them the same way: bytes on the wire are then the server's UDP datagrams
 * (25 bytes of datagram header and tag each) plus whatever it still wrote over TCP.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Connect, encodeFrame, PROTOCOL_VERSION, SchemaRegistry } from "../protocol/mod.ts";
import { GameSocketClient } from "../client.ts";
import { BENCH_NAMESPACE, BENCH_SCHEMAS } from "../load/bench_update.ts";
import { type LoadTransport, runLoad } from "../load/load_generator.ts";
import { CLIENTS_PER_ADDRESS, sourceAddresses } from "../load/load_options.ts";
import { connectNodeTcp } from "../transport/node_tcp_conn.ts";
import type { LoadReport } from "../load/load_report.ts";
import { type ProcessSample, sampleProcess, startServerProcess } from "./server_process.ts";

const ROOT = new URL("../", import.meta.url);

/** A fanout run's figures, keyed as the peer benchmark's. */
interface FanoutResult {
  impl: "game-socket";
  mode: string;
  transport: LoadTransport;
  C: number;
  R: number;
  rate_hz: number;
  duration_s: number;
  sent: number;
  expected: number;
  delivered: number;
  undelivered: number;
  delivered_per_s: number;
  lat_ms: { p50: number; p99: number; max: number };
  server_cpu_s: number;
  server_cpu_sys_s: number;
  server_cpu_us_per_delivered: number;
  server_rss_kb_per_conn: number;
  wire_bytes_out_per_delivered: number;
  /**
   * Bytes the server read per update sent: the update itself plus what else the clients wrote
   * (heartbeats, and with session recovery their `SessionAck` frames).
   */
  wire_bytes_in_per_sent: number;
  /** Updates the clients sent as datagrams (0 over TCP). */
  sent_udp: number;
  /**
   * Datagrams that reached the server's socket over the window: the clients' updates plus their
   * hellos (one per client every 2 s). Fewer than `sent_udp` means updates were lost on the way in.
   */
  server_udp_received: number;
  /** Deliveries that arrived as datagrams (0 over TCP). */
  delivered_udp: number;
  /** The server's datagrams sent per delivery (below 1 when a datagram carries several). */
  udp_datagrams_per_delivered: number;
  /** Of the bytes per delivery, those the server wrote over TCP. */
  tcp_bytes_out_per_delivered: number;
  /** Datagrams the server dropped on arrival over the window, by reason (only those that happened). */
  server_udp_dropped: Record<string, number>;
  /**
   * Datagrams the server did not send over the window because its socket's bytes in flight were
   * at the limit (`stats.udp.overflowed`): an overloaded server.
   */
  server_udp_overflowed: number;
  gen_cpu_util: number;
  gen_send_lag_max_ms: number;
  window_s: number;
  errors: Record<string, number>;
}

const round = (value: number, digits = 2) => Number(value.toFixed(digits));

/** The server's counters that the benchmark reads, from its `stats` reply. */
interface ServerCounters {
  bytesIn: number;
  bytesOut: number;
  udp?: {
    received: number;
    sent: number;
    bytesIn: number;
    bytesOut: number;
    overflowed: number;
    dropped: Record<string, number>;
  };
}

async function fanout(
  server: { pid: number; port: number },
  clients: number,
  rooms: number,
  rate: number,
  duration: number,
  transport: LoadTransport,
): Promise<FanoutResult> {
  let start: ProcessSample | undefined;
  let end: ProcessSample | undefined;
  let afterConnectRssKb = 0;
  const beforeConnectRssKb = sampleProcess(server.pid).rssKb;
  // The server counts the bytes it writes; a client of its own, in no room and without UDP,
  // asks for them.
  await using statsClient = new GameSocketClient({ udp: false });
  await statsClient.connect("127.0.0.1", server.port);
  const stats = await statsClient.of(BENCH_NAMESPACE, { schemas: BENCH_SCHEMAS }).ready;
  const counters = async () => (await stats.emitWithAck("stats")) as unknown as ServerCounters;
  const none: ServerCounters = { bytesIn: 0, bytesOut: 0 };
  let startCounters: Promise<ServerCounters> = Promise.resolve(none);
  let endCounters: Promise<ServerCounters> = Promise.resolve(none);
  const report: LoadReport = await runLoad({
    host: "127.0.0.1",
    port: server.port,
    clients,
    rooms,
    rate,
    duration,
    transport,
    onWindowStart: () => {
      start = sampleProcess(server.pid);
      afterConnectRssKb = start.rssKb;
      startCounters = counters();
    },
    onWindowEnd: () => {
      end = sampleProcess(server.pid);
      endCounters = counters();
    },
  });
  const [before, after] = [await startCounters, await endCounters];
  const tcpBytes = after.bytesOut - before.bytesOut;
  const tcpBytesIn = after.bytesIn - before.bytesIn;
  const udpBytes = (after.udp?.bytesOut ?? 0) - (before.udp?.bytesOut ?? 0);
  const udpBytesIn = (after.udp?.bytesIn ?? 0) - (before.udp?.bytesIn ?? 0);
  const datagrams = (after.udp?.sent ?? 0) - (before.udp?.sent ?? 0);
  const datagramsIn = (after.udp?.received ?? 0) - (before.udp?.received ?? 0);
  const overflowed = (after.udp?.overflowed ?? 0) - (before.udp?.overflowed ?? 0);
  const udpDropped: Record<string, number> = {};
  for (const [reason, count] of Object.entries(after.udp?.dropped ?? {})) {
    const delta = count - (before.udp?.dropped[reason] ?? 0);
    if (delta > 0) udpDropped[reason] = delta;
  }
  const s = start ?? sampleProcess(server.pid);
  const e = end ?? sampleProcess(server.pid);
  const cpu = e.userS + e.systemS - s.userS - s.systemS;
  const delivered = report.received;
  return {
    impl: "game-socket",
    mode: "fanout",
    transport,
    C: clients,
    R: rooms,
    rate_hz: rate,
    duration_s: duration,
    sent: report.sent,
    expected: report.expected,
    delivered,
    undelivered: report.lost,
    delivered_per_s: Math.round(report.msgs_per_s),
    lat_ms: {
      p50: round(report.latency_ms.p50),
      p99: round(report.latency_ms.p99),
      max: round(report.latency_ms.max),
    },
    server_cpu_s: round(cpu),
    server_cpu_sys_s: round(e.systemS - s.systemS),
    server_cpu_us_per_delivered: delivered > 0 ? round(cpu * 1e6 / delivered) : 0,
    server_rss_kb_per_conn: round((afterConnectRssKb - beforeConnectRssKb) / clients, 1),
    wire_bytes_out_per_delivered: delivered > 0 ? round((tcpBytes + udpBytes) / delivered, 1) : 0,
    wire_bytes_in_per_sent: report.sent > 0 ? round((tcpBytesIn + udpBytesIn) / report.sent, 1) : 0,
    sent_udp: report.sent_udp,
    server_udp_received: datagramsIn,
    delivered_udp: report.received_udp,
    udp_datagrams_per_delivered: delivered > 0 ? round(datagrams / delivered, 3) : 0,
    tcp_bytes_out_per_delivered: delivered > 0 ? round(tcpBytes / delivered, 1) : 0,
    server_udp_dropped: udpDropped,
    server_udp_overflowed: overflowed,
    gen_cpu_util: round(report.gen_cpu_util),
    gen_send_lag_max_ms: round(report.send_lag_max_ms),
    window_s: round(report.window_s, 3),
    errors: { ...report.errors },
  };
}

/**
 * Opens `count` connections that complete the handshake of "/" and then stay idle, spread over
 * loopback source addresses so that each stays under the server's `maxConnectionsPerAddress`.
 */
async function openIdle(port: number, count: number): Promise<Deno.Conn[]> {
  const sources = sourceAddresses(Math.ceil(count / CLIENTS_PER_ADDRESS));
  const conns: Deno.Conn[] = [];
  const buffer = new Uint8Array(256);
  const hello = encodeFrame(Connect, {
    namespace: "/",
    channel: 0,
    protocolVersion: PROTOCOL_VERSION,
    schemaFingerprint: new SchemaRegistry().fingerprint,
  }).slice();
  for (let i = 0; i < count; i += 200) {
    const batch = Array.from({ length: Math.min(200, count - i) }, async (_, j) => {
      const localAddress = sources?.[(i + j) % sources.length];
      const conn = localAddress === undefined
        ? await Deno.connect({ hostname: "127.0.0.1", port })
        : await connectNodeTcp({ hostname: "127.0.0.1", port, localAddress });
      conns.push(conn);
      await conn.write(hello);
      if (await conn.read(buffer) === null) throw new Error("The server closed a connection");
    });
    await Promise.all(batch);
  }
  return conns;
}

function openFilesLimit(): number {
  try {
    const limits = Deno.readTextFileSync("/proc/self/limits");
    return Number(limits.match(/Max open files\s+(\d+)/)?.[1] ?? Infinity);
  } catch {
    return Infinity;
  }
}

const HELP = `Usage: deno task bench:fanout [options]

The fanout benchmark, in the scenario of the peer benchmark (../shared/bench/peers): prints one
JSON line with the same keys (delivered_per_s, lat_ms, server_cpu_us_per_delivered, ...).

Options:
  --mode <m>         fanout (default), saturate, or idle
  --clients <n>      clients (default 200; idle: connections, default 10000)
  --rooms <n>        rooms (default 10)
  --rate <hz>        updates per second per client (default 20; saturate: the first step, 2)
  --duration <s>     seconds of sending (default 10; saturate: seconds per step, 5)
  --send-tick <ms>   run the server with this send tick (default 0: end of each tick)
  --udp              send and relay the updates unreliable, over UDP (default: TCP)
  --steps <n>        saturate: the most steps (default 12, as the peer benchmark)
  -h, --help         show this help

Idle mode holds one socket per connection in this process and one in the server: raise the
open-files limit first where it is low, in the shell that runs the task (deno task has no
ulimit): ulimit -n 20000 && deno task bench:fanout --mode idle
`;

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      mode: { type: "string", default: "fanout" },
      clients: { type: "string" },
      rooms: { type: "string", default: "10" },
      rate: { type: "string" },
      duration: { type: "string" },
      "send-tick": { type: "string", default: "0" },
      udp: { type: "boolean", default: false },
      steps: { type: "string", default: "12" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const mode = values.mode;
  if (mode !== "fanout" && mode !== "saturate" && mode !== "idle") {
    console.error(`--mode must be fanout, saturate or idle, got ${mode}`);
    return 2;
  }
  const clients = Number(values.clients ?? (mode === "idle" ? 10_000 : 200));
  const rooms = Number(values.rooms);
  const rate = Number(values.rate ?? (mode === "saturate" ? 2 : 20));
  const duration = Number(values.duration ?? (mode === "saturate" ? 5 : 10));
  for (const [name, value] of Object.entries({ clients, rooms, rate, duration })) {
    if (!(value > 0) || !Number.isFinite(value)) {
      console.error(`--${name} must be a positive number`);
      return 2;
    }
  }
  if (mode === "idle" && clients + 100 > openFilesLimit()) {
    console.error(
      `${clients} connections need more open files than the limit of ${openFilesLimit()}: ` +
        "run `ulimit -n 20000` in the shell first",
    );
    return 2;
  }
  const sendTick = Number(values["send-tick"]);
  const transport: LoadTransport = values.udp ? "udp" : "tcp";
  await using server = await startServerProcess(ROOT, ["--send-tick", String(sendTick)]);
  // Let the server settle before its idle RSS is read.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const idle = sampleProcess(server.pid);
  if (mode === "idle") {
    const conns = await openIdle(server.port, clients);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = sampleProcess(server.pid);
    console.log(JSON.stringify({
      impl: "game-socket",
      mode,
      connections: clients,
      server_rss_mb: {
        idle: round(idle.rssKb / 1024, 1),
        after_connect: round(after.rssKb / 1024, 1),
      },
      server_rss_kb_per_conn: round((after.rssKb - idle.rssKb) / clients, 2),
    }));
    for (const conn of conns) conn.close();
    return 0;
  }
  // An unmeasured warm-up, as the peer benchmark has: the JIT settles first.
  await runLoad({
    host: "127.0.0.1",
    port: server.port,
    clients,
    rooms,
    rate: Math.min(rate, 5),
    duration: 2,
    drain: 1,
    transport,
  });
  if (mode === "fanout") {
    const result = await fanout(server, clients, rooms, rate, duration, transport);
    console.log(JSON.stringify({ ...result, send_tick_ms: sendTick }));
    return 0;
  }
  const steps: FanoutResult[] = [];
  let best: FanoutResult | undefined;
  const maxSteps = Number(values.steps);
  for (let step = 0, stepRate = rate; step < maxSteps; step++, stepRate *= 1.5) {
    const result = await fanout(server, clients, rooms, round(stepRate, 3), duration, transport);
    steps.push(result);
    console.error(
      `step ${step}: ${
        stepRate.toFixed(2)
      } Hz, ${result.delivered_per_s} delivered/s, p99 ${result.lat_ms.p99} ms, ${result.undelivered} undelivered`,
    );
    const passed = result.lat_ms.p99 <= 100 && result.undelivered <= 0.01 * result.expected;
    if (!passed) break;
    if (best !== undefined && result.delivered_per_s < best.delivered_per_s * 1.05) {
      best = result.delivered_per_s > best.delivered_per_s ? result : best;
      break;
    }
    best = result;
  }
  console.log(JSON.stringify({
    impl: "game-socket",
    mode,
    transport,
    C: clients,
    R: rooms,
    send_tick_ms: sendTick,
    max_sustainable_delivered_per_s: best?.delivered_per_s ?? 0,
    // The steps ran out before a limit was found: the maximum is at least this.
    step_limit_reached: steps.length === maxSteps && best === steps.at(-1),
    at_rate_hz: best?.rate_hz ?? 0,
    p99_ms_at_max: best?.lat_ms.p99 ?? 0,
    server_cpu_us_per_delivered_at_max: best?.server_cpu_us_per_delivered ?? 0,
    wire_bytes_out_per_delivered_at_max: best?.wire_bytes_out_per_delivered ?? 0,
    steps: steps.map((s) => ({
      rate_hz: s.rate_hz,
      delivered_per_s: s.delivered_per_s,
      p99: s.lat_ms.p99,
      undelivered: s.undelivered,
      server_cpu_us_per_delivered: s.server_cpu_us_per_delivered,
      wire_bytes_out_per_delivered: s.wire_bytes_out_per_delivered,
      wire_bytes_in_per_sent: s.wire_bytes_in_per_sent,
      gen_cpu_util: s.gen_cpu_util,
      ...(s.transport === "udp"
        ? {
          sent_udp: s.sent_udp,
          server_udp_received: s.server_udp_received,
          delivered_udp: s.delivered_udp,
          udp_datagrams_per_delivered: s.udp_datagrams_per_delivered,
          server_udp_dropped: s.server_udp_dropped,
          server_udp_overflowed: s.server_udp_overflowed,
        }
        : {}),
      ...(Object.keys(s.errors).length > 0 ? { errors: s.errors } : {}),
    })),
  }));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
