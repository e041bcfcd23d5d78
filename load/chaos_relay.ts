/**
 * The TCP relay of `deno task stress --chaos`: it listens on 127.0.0.1, forwards each connection
 * to the server, and while cutting, cuts a live connection chosen at random (from a seeded
 * source) at a fixed rate, closing both of its sides at once, mid-stream. A load generator cannot
 * cut the server's side of a connection itself; through the relay, each cut is a dropped
 * connection for both ends, and the client reconnects and resumes its session.
 *
 * Its connections to the server may come from several local addresses (`localAddresses`), each
 * new one from the address with the fewest live ones, so that none passes the server's
 * `maxConnectionsPerAddress` however the cuts fall.
 *
 * @module
 */

import { connectNodeTcp } from "../transport/node_tcp_conn.ts";
import { mulberry32 } from "./seeded_random.ts";

/** Options of {@linkcode ChaosRelay.start}. */
export interface ChaosRelayOptions {
  /** The server's host. */
  targetHost: string;
  /** The server's port. */
  targetPort: number;
  /** Cuts per second, across all the live connections, while cutting. */
  rate: number;
  /**
   * The seed of the choice of the connection to cut: the same seed, the same choices.
   *
   * @default {1}
   */
  seed?: number;
  /**
   * The local addresses to connect to the server from (such as 127.0.0.1 to 127.0.0.10).
   *
   * @default {undefined: the system chooses}
   */
  localAddresses?: readonly string[];
}

/** One relayed connection: the client's side and the server's. */
interface RelayedPair {
  readonly client: Deno.TcpConn;
  readonly target: Deno.TcpConn;
  /** The index in `localAddresses` of the address its server side comes from, or -1. */
  readonly source: number;
  /** Its place in the list of live pairs, or -1 once it ended. */
  index: number;
  done: Promise<void>;
}

/** How much one read of a relayed connection takes at most. */
const READ_SIZE = 16 * 1024;

/**
 * A running chaos relay. Connect clients to `127.0.0.1:port`; call `startCutting()` when the cuts
 * should begin and `stopCutting()` when they should end.
 *
 * @example
 * ```ts ignore
 * import { ChaosRelay } from "./chaos_relay.ts";
 *
 * await using relay = ChaosRelay.start({ targetHost: "127.0.0.1", targetPort: 3103, rate: 10 });
 * // ... connect clients to 127.0.0.1:relay.port ...
 * relay.startCutting();
 * // ... run ...
 * relay.stopCutting();
 * console.log(`${relay.cuts} cuts`);
 * ```
 */
export class ChaosRelay implements AsyncDisposable {
  /** The port clients connect to, on 127.0.0.1. */
  readonly port: number;
  #listener: Deno.TcpListener;
  #options: Required<Omit<ChaosRelayOptions, "localAddresses">>;
  #localAddresses: readonly string[] | undefined;
  /** Live connections to the server from each local address. */
  #perSource: number[];
  #random: () => number;
  #live: RelayedPair[] = [];
  #pairs = new Set<RelayedPair>();
  #accepting: Promise<void>;
  #closed = false;
  #cuts = 0;
  #accepted = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  private constructor(
    listener: Deno.TcpListener,
    options: Required<Omit<ChaosRelayOptions, "localAddresses">>,
    localAddresses: readonly string[] | undefined,
  ) {
    this.#listener = listener;
    this.#options = options;
    this.#localAddresses = localAddresses;
    this.#perSource = new Array(localAddresses?.length ?? 0).fill(0);
    this.#random = mulberry32(options.seed);
    this.port = listener.addr.port;
    this.#accepting = this.#accept();
  }

  /**
   * Starts a relay on 127.0.0.1 and a free port. It does not cut until `startCutting()`.
   *
   * @param options The server, the rate of cuts, the seed, and the local addresses.
   * @returns The running relay.
   * @throws {RangeError} When the rate is not above 0 or the seed not a 32-bit unsigned integer.
   * @throws {TypeError} When `localAddresses` is empty.
   */
  static start(options: ChaosRelayOptions): ChaosRelay {
    const { targetHost, targetPort, rate, seed = 1, localAddresses } = options;
    if (!(rate > 0 && Number.isFinite(rate))) {
      throw new RangeError(`Cannot start a chaos relay: the rate must be above 0, got ${rate}`);
    }
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
      throw new RangeError(
        `Cannot start a chaos relay: the seed must be an integer in 0..4294967295, got ${seed}`,
      );
    }
    if (localAddresses !== undefined && localAddresses.length === 0) {
      throw new TypeError("Cannot start a chaos relay: localAddresses is empty");
    }
    return new ChaosRelay(
      Deno.listen({ hostname: "127.0.0.1", port: 0 }),
      { targetHost, targetPort, rate, seed },
      localAddresses,
    );
  }

  /** Connections cut so far. */
  get cuts(): number {
    return this.#cuts;
  }

  /** Connections relayed so far (accepted, and connected to the server). */
  get accepted(): number {
    return this.#accepted;
  }

  /** Connections open now. */
  get open(): number {
    return this.#live.length;
  }

  /**
   * Starts cutting: cut `k` falls `k / rate` seconds from now (a late timer catches up at once),
   * each on a live connection chosen at random; a cut due when none is live is skipped.
   */
  startCutting(): void {
    if (this.#closed || this.#timer !== undefined) return;
    const start = performance.now();
    const interval = 1000 / this.#options.rate;
    let next = 1;
    const tick = () => {
      const due = Math.floor((performance.now() - start) / interval);
      for (; next <= due; next++) this.cut();
      this.#timer = setTimeout(tick, Math.max(0, next * interval - (performance.now() - start)));
    };
    this.#timer = setTimeout(tick, interval);
  }

  /** Stops cutting; the connections stay relayed. */
  stopCutting(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Cuts one live connection, chosen at random, now.
   *
   * @returns Whether there was one to cut.
   */
  cut(): boolean {
    if (this.#live.length === 0) return false;
    this.#end(this.#live[Math.floor(this.#random() * this.#live.length)]!, true);
    return true;
  }

  /** Stops cutting and accepting, closes every connection, and resolves when all is released. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stopCutting();
    this.#listener.close();
    await this.#accepting;
    const pairs = [...this.#pairs];
    for (const pair of pairs) this.#end(pair, false);
    await Promise.all(pairs.map((pair) => pair.done));
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #accept(): Promise<void> {
    while (!this.#closed) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        return;
      }
      const hostname = this.#options.targetHost;
      const port = this.#options.targetPort;
      const source = this.#leastUsedSource();
      let target: Deno.TcpConn;
      try {
        target = source < 0
          ? await Deno.connect({ hostname, port })
          : await connectNodeTcp({ hostname, port, localAddress: this.#localAddresses![source]! });
      } catch {
        client.close();
        continue;
      }
      if (this.#closed) {
        client.close();
        target.close();
        return;
      }
      client.setNoDelay(true);
      target.setNoDelay(true);
      const pair: RelayedPair = {
        client,
        target,
        source,
        index: this.#live.length,
        done: Promise.resolve(),
      };
      this.#live.push(pair);
      this.#pairs.add(pair);
      if (source >= 0) this.#perSource[source]!++;
      this.#accepted++;
      pair.done = Promise.all([this.#pump(pair, client, target), this.#pump(pair, target, client)])
        .then(() => void this.#pairs.delete(pair));
    }
  }

  async #pump(pair: RelayedPair, from: Deno.TcpConn, to: Deno.TcpConn): Promise<void> {
    const buffer = new Uint8Array(READ_SIZE);
    while (pair.index >= 0) {
      let n: number | null;
      try {
        n = await from.read(buffer);
      } catch {
        n = null;
      }
      if (n === null || pair.index < 0) break;
      try {
        for (let done = 0; done < n;) done += await to.write(buffer.subarray(done, n));
      } catch {
        break;
      }
    }
    // One side ended or failed (or the pair was cut): end the other side too, without a cut.
    this.#end(pair, false);
  }

  /** The index of the local address with the fewest live connections, or -1 for none given. */
  #leastUsedSource(): number {
    let best = -1;
    for (let i = 0; i < this.#perSource.length; i++) {
      if (best < 0 || this.#perSource[i]! < this.#perSource[best]!) best = i;
    }
    return best;
  }

  /** Closes both sides of a pair at once; a cut when `cut` (and the relay is not closing). */
  #end(pair: RelayedPair, cut: boolean): void {
    const index = pair.index;
    if (index < 0) return;
    // Swap-remove from the live list, so a cut's choice stays O(1).
    const last = this.#live.pop()!;
    if (last !== pair) {
      this.#live[index] = last;
      last.index = index;
    }
    pair.index = -1;
    if (pair.source >= 0) this.#perSource[pair.source]!--;
    if (cut && !this.#closed) this.#cuts++;
    for (const conn of [pair.client, pair.target]) {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    }
  }
}
