/**
 * A TCP connection opened with `node:net` from a chosen local address, shaped as a `Deno.TcpConn`
 * ({@linkcode NodeTcpConn}). `Deno.connect` cannot bind a local address; a load generator that
 * spreads its connections over several 127.0.0.x source addresses (to stay under a server's
 * per-address limit) needs to.
 *
 * @module
 */

import { connect as netConnect, isIP, type Socket } from "node:net";

/** Options of {@linkcode connectNodeTcp}. */
export interface NodeTcpConnectOptions {
  /** The host to connect to. */
  readonly hostname: string;
  /** The port to connect to. */
  readonly port: number;
  /** The local IP address to connect from (its port is chosen by the system). */
  readonly localAddress: string;
  /**
   * Aborts the connect: the socket is destroyed and the promise rejects with the reason.
   *
   * @default {undefined}
   */
  readonly signal?: AbortSignal;
}

/** How much `readable` asks for at a time. */
const READABLE_CHUNK = 16 * 1024;
/** Bytes received and not read past which the socket pauses (TCP's flow control takes over). */
const PAUSE_AT = 64 * 1024;

/**
 * Opens a TCP connection from `localAddress` with `node:net`. It rejects as `Deno.connect` does
 * when the connection cannot be made (with node's error: `ECONNREFUSED`, `EADDRNOTAVAIL`, ...),
 * and only once the socket is closed, so a failed connect leaves nothing open.
 *
 * @param options Where to connect, from where, and the signal that aborts.
 * @returns The open connection.
 * @throws {TypeError} When `localAddress` is not an IP address.
 * @throws {Deno.errors.NotCapable} When net permission for either address is missing (node:net
 *   would otherwise throw it outside of any promise).
 *
 * @example
 * ```ts ignore
 * import { connectNodeTcp } from "./node_tcp_conn.ts";
 *
 * const conn = await connectNodeTcp({
 *   hostname: "127.0.0.1",
 *   port: 3103,
 *   localAddress: "127.0.0.2",
 * });
 * console.log(conn.localAddr.hostname); // "127.0.0.2"
 * conn.close();
 * ```
 */
export function connectNodeTcp(options: NodeTcpConnectOptions): Promise<NodeTcpConn> {
  const { hostname, port, localAddress, signal } = options;
  const family = isIP(localAddress);
  if (family === 0) {
    return Promise.reject(
      new TypeError(`Cannot connect: localAddress must be an IP address, got "${localAddress}"`),
    );
  }
  for (const host of [hostPort(hostname, port), hostPort(localAddress, 0)]) {
    if (Deno.permissions.querySync({ name: "net", host }).state !== "granted") {
      return Promise.reject(
        new Deno.errors.NotCapable(`Requires net access to "${host}", run again with --allow-net`),
      );
    }
  }
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    // The family of the local address, so that "localhost" resolves to an address it can reach.
    const socket = netConnect({ host: hostname, port, localAddress, family });
    let failure: unknown;
    const onAbort = () => {
      failure ??= signal!.reason;
      socket.destroy();
    };
    const onError = (error: Error) => failure ??= error;
    const onClose = () => {
      signal?.removeEventListener("abort", onAbort);
      reject(failure ?? new Deno.errors.ConnectionReset("The connection closed while connecting"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once("close", onClose);
    socket.once("connect", () => {
      signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      socket.off("close", onClose);
      resolve(new NodeTcpConn(socket));
    });
  });
}

/**
 * A connected `node:net` socket as a `Deno.TcpConn`: `read` fills the caller's buffer from the
 * socket's data (keeping what does not fit for the next read); past 64 KiB not read, the socket
 * pauses until reads catch up, so the peer meets TCP's flow control; `write` resolves when node
 * has handed the bytes to the system. A read settles with the end of the stream (or its error)
 * only once the socket is closed, so a transport that ends when its reads end leaves no socket
 * open.
 */
export class NodeTcpConn implements Deno.TcpConn {
  /** The local address, as connected. */
  readonly localAddr: Deno.NetAddr;
  /** The remote address, as connected. */
  readonly remoteAddr: Deno.NetAddr;
  #socket: Socket;
  /** Chunks received and not read yet, the first one possibly read in part. */
  #chunks: Uint8Array[] = [];
  #queued = 0;
  #paused = false;
  #error: Error | undefined;
  #closed = false;
  #wake: (() => void) | undefined;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  /**
   * Wraps a connected socket; {@linkcode connectNodeTcp} makes one.
   *
   * @param socket The socket, connected; the connection owns it.
   */
  constructor(socket: Socket) {
    this.#socket = socket;
    this.localAddr = netAddr(socket.localAddress, socket.localPort);
    this.remoteAddr = netAddr(socket.remoteAddress, socket.remotePort);
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued >= PAUSE_AT && !this.#paused) {
        this.#paused = true;
        socket.pause();
      }
      this.#wakeReader();
    });
    socket.on("error", (error: Error) => this.#error ??= error);
    socket.once("close", () => {
      this.#closed = true;
      this.#wakeReader();
    });
  }

  /**
   * Reads into `buffer`.
   *
   * @param buffer Where the bytes go.
   * @returns How many bytes were read, or `null` at the end of the stream.
   * @throws {Error} The socket's error, if it failed.
   */
  async read(buffer: Uint8Array): Promise<number | null> {
    while (true) {
      if (this.#queued > 0) return this.#take(buffer);
      if (this.#closed) {
        if (this.#error !== undefined) throw this.#error;
        return null;
      }
      if (this.#wake !== undefined) throw new Deno.errors.Busy("Another read is in progress");
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  /** Moves queued bytes into `buffer`, as many as fit. */
  #take(buffer: Uint8Array): number {
    let n = 0;
    while (n < buffer.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0]!;
      const count = Math.min(chunk.length, buffer.length - n);
      buffer.set(count === chunk.length ? chunk : chunk.subarray(0, count), n);
      n += count;
      if (count === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(count);
    }
    this.#queued -= n;
    if (this.#paused && this.#queued < PAUSE_AT) {
      this.#paused = false;
      this.#socket.resume();
    }
    return n;
  }

  /**
   * Writes `data`, all of it.
   *
   * @param data The bytes.
   * @returns `data.length`, once node has written them to the socket.
   * @throws {Error} The socket's error, or node's when it is closed.
   */
  write(data: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#socket.write(data, (error) => error ? reject(error) : resolve(data.length));
    });
  }

  /** Ends the write side (sends FIN); resolves when what was written is flushed. */
  closeWrite(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#socket.off("close", done);
        resolve();
      };
      this.#socket.once("close", done);
      this.#socket.end(done);
    });
  }

  /** Destroys the socket; a waiting read then ends once it is closed. */
  close(): void {
    this.#socket.destroy();
  }

  /**
   * Sets TCP no-delay (Nagle's algorithm off when `true`).
   *
   * @param noDelay Whether to send at once.
   */
  setNoDelay(noDelay = true): void {
    this.#socket.setNoDelay(noDelay);
  }

  /**
   * Sets TCP keep-alive.
   *
   * @param keepAlive Whether to probe an idle connection.
   */
  setKeepAlive(keepAlive = true): void {
    this.#socket.setKeepAlive(keepAlive);
  }

  /** Keeps the event loop alive while the connection is open (the default). */
  ref(): void {
    this.#socket.ref();
  }

  /** Lets the event loop finish while the connection is open. */
  unref(): void {
    this.#socket.unref();
  }

  /** The bytes received, as a stream (over `read`). */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return this.#readable ??= new ReadableStream({
      pull: async (controller) => {
        const buffer = new Uint8Array(READABLE_CHUNK);
        const n = await this.read(buffer);
        if (n === null) controller.close();
        else controller.enqueue(buffer.subarray(0, n));
      },
      cancel: () => this.close(),
    });
  }

  /** A stream that writes to the connection (over `write`); closing it ends the write side. */
  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= new WritableStream({
      write: async (chunk) => void await this.write(chunk),
      close: () => this.closeWrite(),
      abort: () => this.close(),
    });
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** A host and port as Deno's net permission names them: an IPv6 address in brackets. */
function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

function netAddr(hostname: string | undefined, port: number | undefined): Deno.NetAddr {
  return { transport: "tcp", hostname: hostname ?? "", port: port ?? 0 };
}
