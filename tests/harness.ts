/**
 * Shared pieces of the server and client tests: a server on 127.0.0.1 port 0, connected
 * clients, a raw TCP peer that speaks frames by hand, and promises of events. Everything here
 * closes with `await using`, so the resource sanitizer sees nothing left open.
 */

import {
  Connect,
  encodeFrame,
  type Frame,
  FrameDecoder,
  type FrameReadOptions,
  PROTOCOL_VERSION,
  SchemaRegistry,
} from "../protocol/mod.ts";
import { GameSocketServer, type GameSocketServerOptions } from "../server.ts";
import { type ConnectOptions, GameSocketClient, type GameSocketClientOptions } from "../client.ts";

/** A listening server that closes itself with `await using`. */
export interface TestServer extends AsyncDisposable {
  readonly server: GameSocketServer;
  readonly port: number;
}

/** Starts a server on 127.0.0.1, port 0. */
export async function startServer(options: GameSocketServerOptions = {}): Promise<TestServer> {
  const server = new GameSocketServer({ hostname: "127.0.0.1", port: 0, ...options });
  const { port } = await server.listen();
  return { server, port, [Symbol.asyncDispose]: () => server.close() };
}

/** A client connected to "/" that closes itself with `await using`. */
export type TestClient = GameSocketClient & AsyncDisposable;

/** Connects a client to a test server's port. */
export async function connectClient(
  port: number,
  options: GameSocketClientOptions = {},
  connect: ConnectOptions = {},
): Promise<TestClient> {
  const client = new GameSocketClient(options);
  await client.connect("127.0.0.1", port, connect);
  return client;
}

/** Resolves with the arguments of the next `event` of an emitter. */
export function nextEvent<Args extends unknown[] = unknown[]>(
  // deno-lint-ignore no-explicit-any
  target: { once(event: any, listener: (...args: any[]) => void): unknown },
  event: string,
): Promise<Args> {
  return new Promise((resolve) =>
    target.once(event, (...args: unknown[]) => resolve(args as Args))
  );
}

/** The frame a client sends first: Connect "/" on channel 0 with this build's version and fingerprint. */
export function rootConnect(schemas: SchemaRegistry = new SchemaRegistry()): Uint8Array {
  return encodeFrame(Connect, {
    namespace: "/",
    channel: 0,
    protocolVersion: PROTOCOL_VERSION,
    schemaFingerprint: schemas.fingerprint,
  }).slice();
}

/**
 * A TCP peer that writes bytes by hand and reads frames through a `FrameDecoder`: the hostile
 * or broken client (or server) of the fault tests.
 */
export class RawPeer implements AsyncDisposable {
  readonly conn: Deno.TcpConn;
  #decoder: FrameDecoder;
  #frames: Frame[] = [];
  #buffer = new Uint8Array(65536);
  #ended = false;

  private constructor(conn: Deno.TcpConn, options: FrameReadOptions) {
    this.conn = conn;
    this.#decoder = new FrameDecoder(options);
  }

  /** Connects to 127.0.0.1:`port`. */
  static async connect(port: number, options: FrameReadOptions = {}): Promise<RawPeer> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new RawPeer(conn, options);
  }

  /** Wraps an accepted connection (a fake server's side). */
  static accept(conn: Deno.TcpConn, options: FrameReadOptions = {}): RawPeer {
    return new RawPeer(conn, options);
  }

  /** Writes all of `bytes`. */
  async write(bytes: Uint8Array): Promise<void> {
    for (let done = 0; done < bytes.length;) done += await this.conn.write(bytes.subarray(done));
  }

  /** The next frame, or `undefined` when the stream ended first. */
  async next(): Promise<Frame | undefined> {
    while (this.#frames.length === 0) {
      if (this.#ended) return undefined;
      let n: number | null;
      try {
        n = await this.conn.read(this.#buffer);
      } catch {
        n = null;
      }
      if (n === null) {
        this.#ended = true;
        return undefined;
      }
      this.#frames.push(...this.#decoder.push(this.#buffer.subarray(0, n)));
    }
    return this.#frames.shift();
  }

  /** Reads the raw bytes of the stream until it ends; resolves with how many there were. */
  async drain(): Promise<number> {
    let total = 0;
    while (true) {
      let n: number | null;
      try {
        n = await this.conn.read(this.#buffer);
      } catch {
        return total;
      }
      if (n === null) return total;
      total += n;
    }
  }

  /** Reads frames until the stream ends; resolves with all of them. */
  async rest(): Promise<Frame[]> {
    const frames: Frame[] = [];
    for (let frame = await this.next(); frame !== undefined; frame = await this.next()) {
      frames.push(frame);
    }
    return frames;
  }

  /** Closes the connection (once). */
  close(): void {
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
