/**
 * The load generator of `deno task stress` (and of the fanout benchmark): `clients` clients
 * connect at `rampUp` per second, client `i` joins room `r<i % rooms>`, then they send
 * BenchUpdates on a fixed schedule (send `j` at `j / (clients × rate)` s, from client
 * `j % clients`) for `duration` seconds, and every client records the latency of every update its
 * room relays back. Deliveries expected are counted at each send (the size of the sender's room,
 * sender included), so after the drain the report says exactly how many were lost.
 *
 * Over UDP (`transport: "udp"`) each client also waits for its UDP path to open before the
 * window starts, sends its updates `unreliable`, and counts what left and arrived as datagrams.
 *
 * @module
 */

import process from "node:process";
import {
  type ClientSocket,
  ConnectError,
  type EmitOptions,
  type EmitStatus,
  GameSocketClient,
  JoinError,
  message,
  SchemaMessage,
  SocketClosedError,
  type UdpState,
} from "../client.ts";
import type { SchemaValue } from "../protocol/mod.ts";
import { BENCH_SCHEMAS, BenchUpdate, type benchUpdateFields, wallClock } from "./bench_update.ts";
import { LatencyHistogram } from "./latency_histogram.ts";
import {
  type LoadOptions,
  type LoadProgress,
  type ResolvedLoadOptions,
  resolveLoadOptions,
} from "./load_options.ts";
import type { LoadReport } from "./load_report.ts";
import { runSchedule, scheduledCount } from "./send_schedule.ts";

export type { LoadKind, LoadOptions, LoadProgress, LoadTransport } from "./load_options.ts";
export type { LoadReport } from "./load_report.ts";

type BenchValue = SchemaValue<typeof benchUpdateFields>;

/** The events of the benchmark namespace: `update` carries a BenchUpdate (`--kind event`). */
interface BenchEvents {
  update: (update: SchemaMessage<BenchValue>) => void;
}

/** One client of the run. */
interface LoadClient {
  readonly client: GameSocketClient<BenchEvents, BenchEvents>;
  readonly room: number;
  socket: ClientSocket<BenchEvents, BenchEvents> | undefined;
  /** Connected, in its room, and not disconnected since. */
  active: boolean;
  /** The one update this client sends, its `t` set at each send. */
  readonly value: BenchValue;
  /** The same update as an event payload. */
  readonly payload: SchemaMessage<BenchValue>;
}

/** How long an interrupted run waits for deliveries on their way, at most, in seconds. */
const INTERRUPTED_DRAIN = 1;

/** The emit options of each transport's updates: none over TCP (a plain reliable frame). */
const SEND_OPTIONS: Readonly<Record<"tcp" | "udp", EmitOptions | undefined>> = {
  tcp: undefined,
  udp: { delivery: "unreliable" },
};

/** A client whose UDP path did not open: why, as the end of its `udp: <reason>` error. */
class UdpPathError extends Error {
  readonly reason: "timeout" | "failed" | "not offered" | "closed";

  constructor(reason: UdpPathError["reason"]) {
    super(`The UDP path did not open: ${reason}`);
    this.name = "UdpPathError";
    this.reason = reason;
  }
}

/**
 * Runs a load test against a server whose namespace relays each update to the sender's room
 * (such as `deno task serve`'s "/bench"), then closes every client.
 *
 * @param options The target, the clients, rooms, rate and duration, and progress reporting.
 * @returns What the run found.
 * @throws {RangeError} When a number is out of bounds (`LOAD_BOUNDS`).
 * @throws {TypeError} When the host is empty, or the namespace or kind is invalid.
 *
 * @example
 * ```ts ignore
 * import { runLoad } from "./load_generator.ts";
 *
 * const report = await runLoad({ host: "127.0.0.1", port: 3103, clients: 200, rooms: 10, rate: 20, duration: 10 });
 * console.log(report.msgs_per_s, report.latency_ms.p99, report.lost);
 * ```
 */
export function runLoad(options: LoadOptions): Promise<LoadReport> {
  try {
    return new LoadRun(resolveLoadOptions(options)).run();
  } catch (error) {
    return Promise.reject(error);
  }
}

class LoadRun {
  #options: ResolvedLoadOptions;
  #clients: (LoadClient | undefined)[];
  #pending: Promise<void>[] = [];
  #roomSize: Int32Array;
  #histogram = new LatencyHistogram();
  #errors = new Map<string, number>();
  #connected = 0;
  #failed = 0;
  #sent = 0;
  #sentUdp = 0;
  #expected = 0;
  #received = 0;
  #receivedUdp = 0;
  /** `performance.now()` at the latest delivery. */
  #lastDelivery = 0;
  #udpDropped: Record<string, number> = {};
  #closing = false;
  #interrupted = false;
  /** Called at each delivery during the drain, to end it when everything has arrived. */
  #onDelivery: (() => void) | undefined;

  constructor(options: ResolvedLoadOptions) {
    this.#options = options;
    this.#clients = new Array(options.clients).fill(undefined);
    this.#roomSize = new Int32Array(options.rooms);
  }

  async run(): Promise<LoadReport> {
    const options = this.#options;
    const { signal } = options;
    const onAbort = () => this.#interrupted = true;
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) this.#interrupted = true;
    const started = performance.now();
    const progress = this.#startProgress(started);
    let window = { start: performance.now(), end: performance.now() };
    let cpu = { user: 0, system: 0, ms: 0 };
    let lagMax = 0;
    try {
      await runSchedule(
        options.clients,
        1000 / options.rampUp,
        (i) => this.#pending.push(this.#connect(i)),
        signal,
      );
      await untilAborted(Promise.all(this.#pending), signal);
      if (!this.#interrupted) {
        options.onWindowStart?.();
        const cpuStart = process.cpuUsage();
        const total = scheduledCount(options.clients, options.rate, options.duration);
        const sendOptions = SEND_OPTIONS[options.transport];
        const schedule = await runSchedule(
          total,
          1000 / (options.clients * options.rate),
          options.kind === "message"
            ? (j) => this.#sendMessage(j, sendOptions)
            : (j) => this.#sendEvent(j, sendOptions),
          signal,
        );
        lagMax = schedule.lagMax;
        await this.#drain(signal);
        // The window ends at the last delivery, not when a drain that waited in vain for lost
        // ones ran out: a few lost datagrams must not dilute the rate of the rest.
        window = { start: schedule.start, end: Math.max(schedule.end, this.#lastDelivery) };
        cpu = { ...process.cpuUsage(cpuStart), ms: performance.now() - schedule.start };
        options.onWindowEnd?.();
      }
    } finally {
      clearInterval(progress);
      signal?.removeEventListener("abort", onAbort);
      this.#countUdpDrops();
      this.#closing = true;
      await Promise.all(this.#clients.map((entry) => entry?.client.close()));
      await Promise.all(this.#pending);
    }
    const windowMs = Math.max(window.end - window.start, 1e-3);
    const histogram = this.#histogram;
    return {
      transport: options.transport,
      clients: options.clients,
      connected: this.#connected,
      failed: this.#failed,
      sent: this.#sent,
      sent_udp: this.#sentUdp,
      expected: this.#expected,
      received: this.#received,
      received_udp: this.#receivedUdp,
      udp_dropped: this.#udpDropped,
      lost: Math.max(0, this.#expected - this.#received),
      errors: Object.fromEntries(this.#errors),
      msgs_per_s: this.#received / (windowMs / 1000),
      latency_ms: {
        p50: histogram.percentile(50),
        p90: histogram.percentile(90),
        p99: histogram.percentile(99),
        max: histogram.max,
      },
      gen_cpu_util: (cpu.user + cpu.system) / 1000 / Math.max(cpu.ms, 1e-3),
      send_lag_max_ms: lagMax,
      window_s: windowMs / 1000,
      interrupted: this.#interrupted,
      histogram,
    };
  }

  #startProgress(started: number): ReturnType<typeof setInterval> | undefined {
    const { onProgress, progressInterval } = this.#options;
    if (onProgress === undefined) return undefined;
    let last = { at: started, received: 0 };
    return setInterval(() => {
      const now = performance.now();
      const received = this.#received;
      const seconds = (now - last.at) / 1000;
      const msgsPerSecond = seconds > 0 ? (received - last.received) / seconds : 0;
      last = { at: now, received };
      onProgress(
        {
          elapsed: now - started,
          connected: this.#connected,
          failed: this.#failed,
          sent: this.#sent,
          received,
          msgsPerSecond,
          p50: this.#histogram.percentile(50),
          p99: this.#histogram.percentile(99),
        } satisfies LoadProgress,
      );
    }, progressInterval);
  }

  async #connect(index: number): Promise<void> {
    const { host, port, namespace, transport } = this.#options;
    const room = index % this.#options.rooms;
    const value: BenchValue = {
      id: index,
      x: index % 1000,
      y: -(index % 1000),
      angle: 1.5,
      health: 1,
      alive: true,
      firing: false,
      t: 0,
    };
    const entry: LoadClient = {
      // Over TCP the clients open no UDP path, so that a TCP run measures TCP alone.
      client: new GameSocketClient<BenchEvents, BenchEvents>({ udp: transport === "udp" }),
      room,
      socket: undefined,
      active: false,
      value,
      payload: message(BenchUpdate, value),
    };
    this.#clients[index] = entry;
    const { client } = entry;
    client.on("error", (error) => {
      if (!this.#closing) this.#count(`error: ${error instanceof Error ? error.name : "unknown"}`);
    });
    try {
      await client.connect(host, port);
      if (transport === "udp") {
        const state = await udpOpened(client, this.#options.udpTimeout * 1000);
        if (state !== "open") throw new UdpPathError(state);
      }
      const socket = await client.of(namespace, { schemas: BENCH_SCHEMAS }).ready;
      if (this.#options.kind === "message") {
        socket.onMessage(BenchUpdate, (update, info) => {
          this.#receive(update, room, info.delivery !== "reliable");
        });
      } else {
        socket.on("update", (update, info) => {
          if (update instanceof SchemaMessage && update.schema === BenchUpdate) {
            this.#receive(update.value, room, info.delivery !== undefined);
          } else this.#count("unexpected payload");
        });
      }
      await socket.join(`r${room}`);
      if (!socket.connected) throw new SocketClosedError(namespace);
      socket.on("disconnect", (reason) => {
        if (!entry.active) return;
        entry.active = false;
        this.#roomSize[room]!--;
        if (!this.#closing) this.#count(`disconnect: ${reason}`);
      });
      entry.socket = socket;
      entry.active = true;
      this.#roomSize[room]!++;
      this.#connected++;
    } catch (error) {
      // Clients closed by an interrupted run were not refused by the server.
      if (this.#closing) return;
      this.#failed++;
      this.#count(failureReason(error));
      await client.close();
    }
  }

  #sendMessage(j: number, options: EmitOptions | undefined): void {
    const entry = this.#clients[j % this.#options.clients];
    if (entry === undefined || !entry.active) return;
    entry.value.t = wallClock();
    this.#sentWith(entry, entry.socket!.send(BenchUpdate, entry.value, options));
  }

  #sendEvent(j: number, options: EmitOptions | undefined): void {
    const entry = this.#clients[j % this.#options.clients];
    if (entry === undefined || !entry.active) return;
    entry.value.t = wallClock();
    this.#sentWith(entry, entry.socket!.emit("update", entry.payload, options));
  }

  #sentWith(entry: LoadClient, status: EmitStatus): void {
    if (status === "sent" || status === "sent_udp") {
      this.#sent++;
      if (status === "sent_udp") this.#sentUdp++;
      this.#expected += this.#roomSize[entry.room]!;
    } else this.#count(`send: ${status}`);
  }

  #receive(update: BenchValue, room: number, overUdp: boolean): void {
    if (update.id % this.#options.rooms !== room) {
      this.#count("misrouted");
      return;
    }
    this.#received++;
    if (overUdp) this.#receivedUdp++;
    const now = performance.now();
    this.#lastDelivery = now;
    // wallClock(), without reading the clock twice.
    this.#histogram.record(performance.timeOrigin + now - update.t);
    this.#onDelivery?.();
  }

  /** Waits for the deliveries still on their way: until all arrived, or the drain ran out. */
  #drain(signal: AbortSignal | undefined): Promise<void> {
    const seconds = this.#interrupted
      ? Math.min(this.#options.drain, INTERRUPTED_DRAIN)
      : this.#options.drain;
    if (this.#received >= this.#expected || seconds === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#onDelivery = undefined;
        resolve();
      };
      const timer = setTimeout(done, seconds * 1000);
      // A run interrupted while sending drains briefly; one interrupted while draining stops.
      if (!this.#interrupted) signal?.addEventListener("abort", done, { once: true });
      this.#onDelivery = () => {
        if (this.#received >= this.#expected) done();
      };
    });
  }

  #count(reason: string): void {
    this.#errors.set(reason, (this.#errors.get(reason) ?? 0) + 1);
  }

  /** Sums the datagrams every client dropped on arrival, by reason, before they close. */
  #countUdpDrops(): void {
    for (const entry of this.#clients) {
      const dropped = entry?.client.udp?.dropped;
      if (dropped === undefined) continue;
      for (const [reason, count] of Object.entries(dropped)) {
        if (count > 0) this.#udpDropped[reason] = (this.#udpDropped[reason] ?? 0) + count;
      }
    }
  }
}

/**
 * Waits until a connected client's UDP path opens or cannot: `open`, `failed` (the server never
 * answered its hellos), `timeout` (not open within `timeout` ms), `not offered` (the server has
 * no UDP channel), or `closed` (the client closed meanwhile).
 */
function udpOpened(
  client: GameSocketClient<BenchEvents, BenchEvents>,
  timeout: number,
): Promise<"open" | UdpPathError["reason"]> {
  const state = client.udp?.state;
  if (state === undefined) return Promise.resolve("not offered");
  if (state === "open" || state === "failed") return Promise.resolve(state);
  return new Promise((resolve) => {
    const done = (result: "open" | UdpPathError["reason"]) => {
      clearTimeout(timer);
      client.off("udp_state", onState).off("close", onClose);
      resolve(result);
    };
    const onState = (state: UdpState) => {
      if (state === "open" || state === "failed") done(state);
    };
    const onClose = () => done("closed");
    const timer = setTimeout(() => done("timeout"), timeout);
    client.on("udp_state", onState).on("close", onClose);
  });
}

/** The key in `errors` of a client that could not connect or join. */
function failureReason(error: unknown): string {
  if (error instanceof ConnectError) return error.code;
  if (error instanceof JoinError) return `join: ${error.code}`;
  if (error instanceof SocketClosedError) return "join: closed";
  if (error instanceof UdpPathError) return `udp: ${error.reason}`;
  return `error: ${error instanceof Error ? error.name : "unknown"}`;
}

/** Resolves when `promise` settles or `signal` aborts, whichever comes first. */
function untilAborted(promise: Promise<unknown>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return promise.then(() => {});
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => resolve();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
