/**
 * The UDP half of `PacketRelay`: forwards datagrams between clients and the server like a NAT,
 * and reports each once forwarded. Internal to the inspector.
 *
 * It uses `node:dgram`, because `Deno.listenDatagram` still needs `--unstable-net`. Every socket
 * binds an explicit address before it sends: an unbound `send` binds 0.0.0.0, which
 * `--allow-net=127.0.0.1` refuses.
 *
 * @module
 */

import dgram from "node:dgram";
import type { DatagramDecoder } from "./datagram_decoder.ts";
import type { RelayDirection } from "./relay_capture.ts";
import type { RelayEvent } from "./relay_events.ts";

/** Options for {@linkcode DatagramRelay}. */
export interface DatagramRelayOptions {
  /** Where clients send to: the relay's TCP listening address (an IP address). */
  listen: { hostname: string; port: number };
  /** The server's UDP address. */
  target: { hostname: string; port: number };
  /** Decodes each datagram into its event. */
  decoder: DatagramDecoder;
  /** Seconds since the relay started. */
  time: () => number;
  /**
   * Where events go: a `peer` event for each new client address, before its first datagram;
   * a `datagram` event for each datagram, just after it was sent on; a `warning` when a client's
   * datagrams cannot be relayed.
   */
  emit: (event: RelayEvent) => void;
  /** The listening socket failed after it was bound. */
  onFailure: (error: Error) => void;
}

/** A client address and the relay's socket that speaks for it to the server. */
interface Peer {
  /** The peer's number: 1 for the first client address. */
  readonly id: number;
  /** The client's address, `ip:port`. */
  readonly client: string;
}

/** A peer whose upstream socket may still be binding. */
interface PeerState {
  peer: Peer | undefined;
  socket: dgram.Socket;
  /** Settles when the upstream socket is bound or failed to bind. */
  bound: Promise<void>;
  /** Datagrams from the client that came in while the socket was binding. */
  queue: Uint8Array[];
}

/**
 * Relays datagrams: one listening socket for clients, and one upstream socket per client
 * address (ip:port), so that the server sees each client from a port of its own, and its answers
 * find their way back. Upstream sockets live until {@linkcode DatagramRelay.close}.
 */
export class DatagramRelay {
  /** Resolves when the listening socket is bound; rejects when it cannot be. */
  readonly ready: Promise<void>;
  #front: dgram.Socket;
  #options: DatagramRelayOptions;
  #peers = new Map<string, PeerState>();
  #count = 0;
  #closed = false;
  #closing: Promise<void> | undefined;

  /**
   * Starts binding the listening socket.
   *
   * @param options The addresses and where datagrams are reported.
   */
  constructor(options: DatagramRelayOptions) {
    this.#options = options;
    this.#front = dgram.createSocket(socketType(options.listen.hostname));
    this.ready = bind(this.#front, options.listen.port, options.listen.hostname);
    this.ready.then(() => this.#front.on("error", options.onFailure), () => {});
    this.#front.on("message", (message, from) => this.#fromClient(message, from));
  }

  /**
   * Closes the listening socket and every upstream socket.
   *
   * @returns A promise that resolves when all of them are closed.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      const sockets = [{ socket: this.#front, bound: this.ready }, ...this.#peers.values()];
      await Promise.all(sockets.map(async ({ socket, bound }) => {
        // A socket that never bound has nothing to close; closing one that is binding waits.
        if (await bound.then(() => true, () => false)) await closeSocket(socket);
      }));
    })();
    return this.#closing;
  }

  #fromClient(message: Uint8Array, from: dgram.RemoteInfo): void {
    if (this.#closed) return;
    const client = formatAddress(from.address, from.port);
    let state = this.#peers.get(client);
    if (state === undefined) state = this.#open(client, from);
    if (state.peer === undefined) {
      state.queue.push(new Uint8Array(message));
      return;
    }
    this.#up(state, state.peer, new Uint8Array(message));
  }

  /** Opens the upstream socket of a new client address. */
  #open(client: string, from: dgram.RemoteInfo): PeerState {
    const { listen, target } = this.#options;
    const socket = dgram.createSocket(socketType(target.hostname));
    const state: PeerState = {
      peer: undefined,
      socket,
      bound: bind(socket, 0, upstreamHostname(listen.hostname, target.hostname)),
      queue: [],
    };
    this.#peers.set(client, state);
    state.bound.then(() => {
      if (this.#closed) return;
      const { address, port } = socket.address();
      const peer = { id: ++this.#count, client };
      state.peer = peer;
      socket.on("error", (error) => this.#warn(error, client));
      socket.on("message", (message, source) => {
        // Like a NAT: only the server may answer through this socket.
        if (source.port !== target.port || this.#closed) return;
        const data = new Uint8Array(message);
        this.#front.send(data, from.port, from.address, (error) => this.#warn(error, client));
        this.#report(peer, "S>C", data);
      });
      this.#options.emit({
        type: "peer",
        peer: peer.id,
        time: this.#options.time(),
        client,
        upstream: formatAddress(address, port),
        server: formatAddress(target.hostname, target.port),
      });
      for (const data of state.queue.splice(0)) this.#up(state, peer, data);
    }, (error: Error) => {
      // Forget the address: its next datagram tries again.
      this.#peers.delete(client);
      this.#warn(error, client);
    });
    return state;
  }

  #up(state: PeerState, peer: Peer, data: Uint8Array): void {
    const { target } = this.#options;
    state.socket.send(
      data,
      target.port,
      target.hostname,
      (error) => this.#warn(error, peer.client),
    );
    this.#report(peer, "C>S", data);
  }

  #report(peer: Peer, direction: RelayDirection, data: Uint8Array): void {
    const time = this.#options.time();
    this.#options.emit(this.#options.decoder.decode({ peer: peer.id, direction, time, data }));
  }

  #warn(error: Error | null, client: string): void {
    if (error === null || this.#closed) return;
    const message = `cannot relay the datagrams of ${client}: ${error.message}`;
    this.#options.emit({ type: "warning", conn: undefined, time: this.#options.time(), message });
  }
}

/** Binds a socket; rejects with the bind's error. */
function bind(socket: dgram.Socket, port: number, hostname: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => reject(error);
    socket.once("error", failed);
    socket.bind(port, hostname, () => {
      socket.off("error", failed);
      resolve();
    });
  });
}

/** Closes a socket, waiting for its callback so no receive is left pending. */
function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // Closed already.
    }
  });
}

function socketType(hostname: string): "udp4" | "udp6" {
  return hostname.includes(":") ? "udp6" : "udp4";
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || hostname.startsWith("127.");
}

/**
 * The address an upstream socket binds: loopback for a loopback target; else the relay's own
 * address when it is of the target's family and not loopback; else the wildcard address.
 */
function upstreamHostname(listen: string, target: string): string {
  const v6 = socketType(target) === "udp6";
  if (isLoopback(target)) return v6 ? "::1" : "127.0.0.1";
  if (socketType(listen) === socketType(target) && !isLoopback(listen)) return listen;
  return v6 ? "::" : "0.0.0.0";
}

function formatAddress(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}
