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
 * Client `i` connects from 127.0.0.(1 + i mod `addresses`) when `addresses` is above 1, so that
 * no source address passes the server's `maxConnectionsPerAddress`.
 *
 * With `chaos`, the clients connect through a {@linkcode ChaosRelay} that cuts their connections
 * while the updates are sent; each cut client reconnects and resumes its session (its emits kept
 * meanwhile, the server's replayed), and stays counted as a member of its room throughout. Each
 * update carries its sender's sequence number, and each receiver checks it per sender, so a
 * duplicate is found and counted rather than received twice.
 *
 * @module
 */

import process from "node:process";
import {
  type ClientSocket,
  type EmitOptions,
  type EmitStatus,
  GameSocketClient,
  message,
  OfflineQueueFullError,
  SchemaMessage,
  SocketClosedError,
} from "../client.ts";
import type { SchemaValue } from "../protocol/mod.ts";
import {
  BENCH_SCHEMAS,
  BenchUpdate,
  type benchUpdateFields,
  sequenceOf,
  setSequence,
  wallClock,
} from "./bench_update.ts";
import { ChaosRelay } from "./chaos_relay.ts";
import { failureReason, udpOpened, UdpPathError } from "./connect_failure.ts";
import { DeliveryTracker } from "./delivery_tracker.ts";
import { LatencyHistogram } from "./latency_histogram.ts";
import {
  type LoadOptions,
  type LoadProgress,
  type ResolvedLoadOptions,
  resolveLoadOptions,
  sourceAddresses,
} from "./load_options.ts";
import type { ChaosReport, LoadReport } from "./load_report.ts";
import { runSchedule, scheduledCount } from "./send_schedule.ts";
import { SessionCounters } from "./session_counters.ts";

export type {
  ChaosOptions,
  LoadKind,
  LoadOptions,
  LoadProgress,
  LoadTransport,
} from "./load_options.ts";
export type { ChaosReport, LoadReport } from "./load_report.ts";

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
  /** Connected, in its room, and not gone since (a client reconnecting is not gone). */
  active: boolean;
  /** Its connection dropped and it is reconnecting. */
  away: boolean;
  /** The sequence number of its next update. */
  sequence: number;
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
  /** The loopback addresses the connections to the server come from; `undefined` for one. */
  #sources: string[] | undefined;
  /** With chaos: the relay the clients connect through. */
  #relay: ChaosRelay | undefined;
  /** With chaos: the duplicate check. */
  #tracker: DeliveryTracker | undefined;
  #sessions = new SessionCounters();
  /** Clients reconnecting now. */
  #away = 0;

  constructor(options: ResolvedLoadOptions) {
    this.#options = options;
    this.#clients = new Array(options.clients).fill(undefined);
    this.#roomSize = new Int32Array(options.rooms);
    this.#sources = sourceAddresses(options.addresses);
    if (options.chaos !== undefined) {
      this.#tracker = new DeliveryTracker(options.clients, options.rooms);
    }
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
    const { chaos } = options;
    try {
      if (chaos !== undefined) {
        this.#relay = ChaosRelay.start({
          targetHost: options.host,
          targetPort: options.port,
          rate: chaos.rate,
          seed: chaos.seed,
          ...(this.#sources === undefined ? {} : { localAddresses: this.#sources }),
        });
      }
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
        this.#relay?.startCutting();
        const schedule = await runSchedule(
          total,
          1000 / (options.clients * options.rate),
          options.kind === "message"
            ? (j) => this.#sendMessage(j, sendOptions)
            : (j) => this.#sendEvent(j, sendOptions),
          signal,
        );
        lagMax = schedule.lagMax;
        this.#relay?.stopCutting();
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
      await this.#relay?.close();
    }
    const windowMs = Math.max(window.end - window.start, 1e-3);
    const histogram = this.#histogram;
    return {
      transport: options.transport,
      clients: options.clients,
      addresses: options.addresses,
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
      ...(chaos === undefined ? {} : { chaos: this.#chaosReport(chaos) }),
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
          ...(this.#relay === undefined ? {} : {
            chaos: {
              cuts: this.#relay.cuts,
              recovered: this.#sessions.recovered,
              expired: this.#sessions.expired,
            },
          }),
        } satisfies LoadProgress,
      );
    }, progressInterval);
  }

  async #connect(index: number): Promise<void> {
    const { namespace, transport } = this.#options;
    // With chaos, through the relay (on 127.0.0.1), which connects to the server from the
    // source addresses itself.
    const host = this.#relay === undefined ? this.#options.host : "127.0.0.1";
    const port = this.#relay?.port ?? this.#options.port;
    const sources = this.#relay === undefined ? this.#sources : undefined;
    const localAddress = sources?.[index % sources.length];
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
      client: new GameSocketClient<BenchEvents, BenchEvents>({
        udp: transport === "udp",
        ...(localAddress === undefined ? {} : { localAddress }),
      }),
      room,
      socket: undefined,
      active: false,
      away: false,
      sequence: 0,
      value,
      payload: message(BenchUpdate, value),
    };
    this.#clients[index] = entry;
    const { client } = entry;
    client.on("error", (error) => {
      if (!this.#closing) this.#count(`error: ${error instanceof Error ? error.name : "unknown"}`);
    });
    this.#sessions.watch(client);
    client.on("reconnect", () => this.#back(entry));
    client.on("close", (reason) => {
      this.#back(entry);
      this.#leave(entry, reason);
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
          this.#receive(update, index, info.delivery !== "reliable");
        });
      } else {
        socket.on("update", (update, info) => {
          if (update instanceof SchemaMessage && update.schema === BenchUpdate) {
            this.#receive(update.value, index, info.delivery !== undefined);
          } else this.#count("unexpected payload");
        });
      }
      await socket.join(`r${room}`);
      if (!socket.connected) throw new SocketClosedError(namespace);
      socket.on("disconnect", (reason) => {
        if (!entry.active) return;
        if (client.state !== "reconnecting") return this.#leave(entry, reason);
        // Dropped: the server keeps its session (and its rooms) for it to resume, so it stays a
        // member, and its emits are kept meanwhile. Cuts are the point of chaos; else it is news.
        if (!entry.away) {
          entry.away = true;
          this.#away++;
        }
        if (this.#relay === undefined && !this.#closing) this.#count(`disconnect: ${reason}`);
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
    this.#sendWith(entry, () => entry.socket!.send(BenchUpdate, entry.value, options));
  }

  #sendEvent(j: number, options: EmitOptions | undefined): void {
    const entry = this.#clients[j % this.#options.clients];
    if (entry === undefined || !entry.active) return;
    this.#sendWith(entry, () => entry.socket!.emit("update", entry.payload, options));
  }

  #sendWith(entry: LoadClient, send: () => EmitStatus): void {
    entry.value.t = wallClock();
    setSequence(entry.value, entry.sequence);
    let status: EmitStatus;
    try {
      status = send();
    } catch (error) {
      // Reconnecting for longer than its offline queue holds.
      if (!(error instanceof OfflineQueueFullError)) throw error;
      this.#count("send: offline queue full");
      return;
    }
    if (status === "sent" || status === "sent_udp") {
      entry.sequence++;
      this.#sent++;
      if (status === "sent_udp") this.#sentUdp++;
      this.#expected += this.#roomSize[entry.room]!;
    } else this.#count(`send: ${status}`);
  }

  /** A client is back from reconnecting (or closed while it was). */
  #back(entry: LoadClient): void {
    if (!entry.away) return;
    entry.away = false;
    this.#away--;
    this.#onDelivery?.();
  }

  /** A client left for good: it is no longer a member of its room. */
  #leave(entry: LoadClient, reason: string): void {
    if (!entry.active) return;
    entry.active = false;
    this.#roomSize[entry.room]!--;
    if (!this.#closing) this.#count(`disconnect: ${reason}`);
  }

  #receive(update: BenchValue, receiver: number, overUdp: boolean): void {
    if (update.id % this.#options.rooms !== receiver % this.#options.rooms) {
      this.#count("misrouted");
      return;
    }
    const verdict = this.#tracker?.record(receiver, update.id, sequenceOf(update));
    if (verdict === "duplicate") return;
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
    if (this.#settled() || seconds === 0) return Promise.resolve();
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
        if (this.#settled()) done();
      };
    });
  }

  /** Everything expected arrived, and no client is still reconnecting. */
  #settled(): boolean {
    return this.#received >= this.#expected && this.#away === 0;
  }

  #chaosReport(chaos: { rate: number; seed: number }): ChaosReport {
    const sessions = this.#sessions;
    return {
      rate: chaos.rate,
      seed: chaos.seed,
      cuts: this.#relay?.cuts ?? 0,
      reconnect_attempts: sessions.attempts,
      reconnects: sessions.reconnects,
      recovered: sessions.recovered,
      expired: sessions.expired,
      reconnect_failed: sessions.failed,
      duplicates: this.#tracker?.duplicates ?? 0,
      out_of_order: this.#tracker?.outOfOrder ?? 0,
    };
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
