/**
 * The options of a load test ({@linkcode LoadOptions}), their defaults and bounds, and their
 * validation, shared by `runLoad` and `deno task stress`.
 *
 * @module
 */

import { BENCH_NAMESPACE } from "./bench_update.ts";
import { MAX_TRACKED_PAIRS } from "./delivery_tracker.ts";

/** What `runLoad` reports while it runs, every `progressInterval` milliseconds. */
export interface LoadProgress {
  /** Milliseconds since the run started (ramp-up included). */
  readonly elapsed: number;
  /** Clients connected and in their room. */
  readonly connected: number;
  /** Clients that could not connect or join. */
  readonly failed: number;
  /** Updates sent so far. */
  readonly sent: number;
  /** Deliveries received so far. */
  readonly received: number;
  /** Deliveries received per second over the last interval. */
  readonly msgsPerSecond: number;
  /** The median latency so far, in milliseconds. */
  readonly p50: number;
  /** The 99th percentile of latency so far, in milliseconds. */
  readonly p99: number;
  /** With `chaos`: connections cut so far, and sessions resumed and expired. */
  readonly chaos?: {
    readonly cuts: number;
    readonly recovered: number;
    readonly expired: number;
  };
}

/** How each update travels: a message frame, or an `update` event whose payload is the message. */
export type LoadKind = "message" | "event";

/**
 * The transport of the updates: `tcp` (reliable frames; the clients open no UDP path) or `udp`
 * (each client waits for its UDP path to open, then sends its updates `unreliable`, and the
 * server relays them the same way).
 */
export type LoadTransport = "tcp" | "udp";

/**
 * Chaos during a load test: the clients connect through a relay (`ChaosRelay`) that cuts their
 * connections at `rate` cuts per second while the updates are sent; each cut client reconnects
 * and resumes its session. Over TCP only.
 */
export interface ChaosOptions {
  /** Cuts per second, across all the clients' connections. */
  rate: number;
  /**
   * The seed of the choice of the connection to cut.
   *
   * @default {1}
   */
  seed?: number;
}

/** Options of `runLoad`. */
export interface LoadOptions {
  /** The server's host. */
  host: string;
  /** The server's port. */
  port: number;
  /** How many clients connect. */
  clients: number;
  /**
   * How many loopback source addresses the clients connect from: client `i` from
   * 127.0.0.(1 + i mod addresses), so that each address stays under the server's
   * `maxConnectionsPerAddress` (256 by default). With 1, the system chooses (`Deno.connect`).
   * Above 1 only for a loopback host. With `chaos`, the relay's connections to the server are
   * spread instead (the clients connect to the relay).
   *
   * @default {ceil(clients / 200) for a loopback host (127.x.x.x or "localhost"), else 1}
   */
  addresses?: number;
  /**
   * The namespace the clients connect (with the benchmark's schemas).
   *
   * @default {"/bench"}
   */
  namespace?: string;
  /** How many rooms: client `i` joins room `r<i % rooms>`. */
  rooms: number;
  /** Updates per second of each client. */
  rate: number;
  /** Seconds of sending. */
  duration: number;
  /**
   * Connections started per second.
   *
   * @default {500}
   */
  rampUp?: number;
  /**
   * Seconds to wait after the last send for deliveries still on their way.
   *
   * @default {3}
   */
  drain?: number;
  /**
   * How updates travel.
   *
   * @default {"message"}
   */
  kind?: LoadKind;
  /**
   * The transport of the updates.
   *
   * @default {"tcp"}
   */
  transport?: LoadTransport;
  /**
   * With `transport: "udp"`: seconds each client waits for its UDP path to open after its
   * connect, before the measured window. A client whose path does not open in time, or fails,
   * counts as failed (`udp: timeout`, `udp: failed`; `udp: not offered` when the server has
   * no UDP channel).
   *
   * @default {5}
   */
  udpTimeout?: number;
  /**
   * Cut connections while sending ({@linkcode ChaosOptions}), and count sessions recovered and
   * expired, and duplicate deliveries. Needs `transport: "tcp"`.
   *
   * @default {undefined: no cuts}
   */
  chaos?: ChaosOptions;
  /** Called every `progressInterval` milliseconds while the run lasts. */
  onProgress?: (progress: LoadProgress) => void;
  /**
   * Milliseconds between calls of `onProgress`.
   *
   * @default {2000}
   */
  progressInterval?: number;
  /**
   * Ends the run early when aborted: no more connects or sends, a short drain (at most 1 s),
   * then the report.
   */
  signal?: AbortSignal;
  /**
   * Called when the measured window starts: every client connected (or failed), right before
   * the first send. For measuring something else (a server's CPU time) over the same window.
   */
  onWindowStart?: () => void;
  /** Called when the measured window ends: after the drain, before the clients close. */
  onWindowEnd?: () => void;
}

/** {@linkcode LoadOptions} with every default filled in. */
export interface ResolvedLoadOptions extends
  Required<
    Omit<LoadOptions, "chaos" | "onProgress" | "signal" | "onWindowStart" | "onWindowEnd">
  > {
  /** Cuts while sending, if given, with its seed. */
  chaos?: Required<ChaosOptions>;
  /** Called every `progressInterval` milliseconds, if given. */
  onProgress?: (progress: LoadProgress) => void;
  /** Ends the run early, if given. */
  signal?: AbortSignal;
  /** Called when the measured window starts, if given. */
  onWindowStart?: () => void;
  /** Called when the measured window ends, if given. */
  onWindowEnd?: () => void;
}

/** The range of one numeric option. */
export interface OptionBound {
  /** The smallest value allowed. */
  readonly min: number;
  /** Whether the smallest value is excluded (`rate > 0`). */
  readonly exclusive?: boolean;
  /** The largest value allowed. */
  readonly max: number;
  /** Whether the value must be an integer. */
  readonly integer: boolean;
}

/** The bounds of the numeric options; `deno task stress` checks its flags against them too. */
export const LOAD_BOUNDS: Readonly<
  Record<
    | "port"
    | "clients"
    | "addresses"
    | "rooms"
    | "rate"
    | "duration"
    | "rampUp"
    | "drain"
    | "udpTimeout"
    | "progressInterval",
    OptionBound
  >
> = {
  port: { min: 1, max: 65535, integer: true },
  clients: { min: 1, max: 20_000, integer: true },
  addresses: { min: 1, max: 250, integer: true },
  rooms: { min: 1, max: 20_000, integer: true },
  rate: { min: 0, exclusive: true, max: 1000, integer: false },
  duration: { min: 0, exclusive: true, max: 3600, integer: false },
  rampUp: { min: 0, exclusive: true, max: 100_000, integer: false },
  drain: { min: 0, max: 600, integer: false },
  udpTimeout: { min: 0, exclusive: true, max: 600, integer: false },
  progressInterval: { min: 10, max: 3_600_000, integer: true },
};

/** The bounds of {@linkcode ChaosOptions}: `rate` in cuts per second, `seed` 32 bits. */
export const CHAOS_BOUNDS: Readonly<Record<"rate" | "seed", OptionBound>> = {
  rate: { min: 0, exclusive: true, max: 1000, integer: false },
  seed: { min: 0, max: 0xffff_ffff, integer: true },
};

/** How many clients connect from each loopback address by default: under the server's 256. */
export const CLIENTS_PER_ADDRESS = 200;

/**
 * Whether a host is a loopback one, whose connections may come from any 127.0.0.x.
 *
 * @param host A host name or IP address.
 * @returns `true` for 127.x.x.x and "localhost".
 */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The loopback source addresses of a run: 127.0.0.1 to 127.0.0.`count`.
 *
 * @param count How many (1..250).
 * @returns The addresses, or `undefined` for 1 (the system then chooses).
 */
export function sourceAddresses(count: number): string[] | undefined {
  if (count <= 1) return undefined;
  return Array.from({ length: count }, (_, i) => `127.0.0.${i + 1}`);
}

/** The seed of the chaos relay when none is given. */
export const DEFAULT_CHAOS_SEED = 1;

/** The defaults of the optional settings. */
export const LOAD_DEFAULTS: {
  readonly namespace: string;
  readonly rampUp: number;
  readonly drain: number;
  readonly kind: LoadKind;
  readonly transport: LoadTransport;
  readonly udpTimeout: number;
  readonly progressInterval: number;
} = {
  namespace: BENCH_NAMESPACE,
  rampUp: 500,
  drain: 3,
  kind: "message",
  transport: "tcp",
  udpTimeout: 5,
  progressInterval: 2000,
};

/**
 * Why a value is outside its bound, or `undefined` when it is inside.
 *
 * @param value The value.
 * @param bound Its bound.
 * @returns The problem, as the end of a sentence ("must be an integer in 1..20000").
 */
export function boundProblem(value: number, bound: OptionBound): string | undefined {
  const inside = typeof value === "number" && Number.isFinite(value) &&
    (bound.exclusive ? value > bound.min : value >= bound.min) && value <= bound.max &&
    (!bound.integer || Number.isInteger(value));
  if (inside) return undefined;
  const kind = bound.integer ? "an integer" : "a number";
  return bound.exclusive
    ? `must be ${kind} above ${bound.min} and at most ${bound.max}`
    : `must be ${kind} in ${bound.min}..${bound.max}`;
}

/**
 * Checks the options of a load test and fills in the defaults.
 *
 * @param options The options.
 * @returns The options with every default.
 * @throws {RangeError} When a number is out of its {@linkcode LOAD_BOUNDS}.
 * @throws {TypeError} When the host is empty, the namespace does not start with "/", the kind
 *   is neither "message" nor "event", the transport neither "tcp" nor "udp", `chaos` is
 *   given with `udp`, or `addresses` is above 1 for a host that is not a loopback one.
 */
export function resolveLoadOptions(options: LoadOptions): ResolvedLoadOptions {
  const resolved: ResolvedLoadOptions = {
    host: options.host,
    port: options.port,
    clients: options.clients,
    addresses: options.addresses ??
      (isLoopbackHost(options.host) ? Math.ceil(options.clients / CLIENTS_PER_ADDRESS) : 1),
    namespace: options.namespace ?? LOAD_DEFAULTS.namespace,
    rooms: options.rooms,
    rate: options.rate,
    duration: options.duration,
    rampUp: options.rampUp ?? LOAD_DEFAULTS.rampUp,
    drain: options.drain ?? LOAD_DEFAULTS.drain,
    kind: options.kind ?? LOAD_DEFAULTS.kind,
    transport: options.transport ?? LOAD_DEFAULTS.transport,
    udpTimeout: options.udpTimeout ?? LOAD_DEFAULTS.udpTimeout,
    progressInterval: options.progressInterval ?? LOAD_DEFAULTS.progressInterval,
    ...(options.chaos === undefined ? {} : {
      chaos: { rate: options.chaos.rate, seed: options.chaos.seed ?? DEFAULT_CHAOS_SEED },
    }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.onWindowStart === undefined ? {} : { onWindowStart: options.onWindowStart }),
    ...(options.onWindowEnd === undefined ? {} : { onWindowEnd: options.onWindowEnd }),
  };
  if (typeof resolved.host !== "string" || resolved.host === "") {
    throw new TypeError("Cannot run a load test: the host is empty");
  }
  const ns = resolved.namespace;
  if (typeof ns !== "string" || !ns.startsWith("/") || ns.length > 255) {
    throw new TypeError(
      `Cannot run a load test: a namespace starts with "/" and has at most 255 characters, got ${
        JSON.stringify(ns)
      }`,
    );
  }
  if (resolved.kind !== "message" && resolved.kind !== "event") {
    throw new TypeError(
      `Cannot run a load test: kind is "message" or "event", got ${JSON.stringify(resolved.kind)}`,
    );
  }
  if (resolved.transport !== "tcp" && resolved.transport !== "udp") {
    throw new TypeError(
      `Cannot run a load test: transport is "tcp" or "udp", got ${
        JSON.stringify(resolved.transport)
      }`,
    );
  }
  for (const [name, bound] of Object.entries(LOAD_BOUNDS)) {
    const value = resolved[name as keyof typeof LOAD_BOUNDS];
    const problem = boundProblem(value, bound);
    if (problem !== undefined) {
      throw new RangeError(`Cannot run a load test: ${name} ${problem}, got ${value}`);
    }
  }
  if (resolved.addresses > 1 && !isLoopbackHost(resolved.host)) {
    throw new TypeError(
      `Cannot run a load test: addresses above 1 need a loopback host (127.x.x.x or localhost), got ${
        JSON.stringify(resolved.host)
      }`,
    );
  }
  if (resolved.chaos !== undefined) {
    // Cuts are for sessions that resume over TCP; what UDP loses is lost by design.
    if (resolved.transport !== "tcp") {
      throw new TypeError('Cannot run a load test: chaos goes with transport "tcp"');
    }
    for (const [name, bound] of Object.entries(CHAOS_BOUNDS)) {
      const value = resolved.chaos[name as keyof typeof CHAOS_BOUNDS];
      const problem = boundProblem(value, bound);
      if (problem !== undefined) {
        throw new RangeError(`Cannot run a load test: chaos.${name} ${problem}, got ${value}`);
      }
    }
    const pairs = resolved.clients * Math.ceil(resolved.clients / resolved.rooms);
    if (pairs > MAX_TRACKED_PAIRS) {
      throw new RangeError(
        `Cannot run a load test: chaos tracks every pair of room members, at most ${MAX_TRACKED_PAIRS}; ${resolved.clients} clients in ${resolved.rooms} rooms make ${pairs} (use more rooms)`,
      );
    }
  }
  return resolved;
}
