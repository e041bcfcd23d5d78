/**
 * Broadcast targets: `to`, `in` and `except` return a new, immutable target each time, so a
 * target kept in a variable never changes under its holder.
 *
 * @module
 */

import { encodeFrame, Event, RoomEvent, type Schema } from "../protocol/mod.ts";
import { SocketClosedError } from "../session/errors.ts";
import {
  checkEventName,
  type DefaultEvents,
  type EmitArgs,
  type EventNames,
  type EventReply,
  type EventsMap,
} from "../session/event_map.ts";
import type { Delivery, UdpFallback } from "../session/delivery.ts";
import { encodePayload, type Payload } from "../session/payload.ts";
import type { BroadcastResult } from "./adapter.ts";
import type { Namespace } from "./namespace.ts";
import type { AnyServerSocket } from "./server_core.ts";
import { SharedFrame } from "./shared_frame.ts";

/** Options of a broadcast `emit` or `send`. */
export interface BroadcastOptions {
  /**
   * Whether a recipient whose send queue is full drops the frame (counted) instead of being
   * disconnected.
   *
   * @default {false}
   */
  volatile?: boolean;
  /**
   * The socket id receivers see as the sender of a room event. `socket.to(room)` sets its own.
   *
   * @default {undefined}
   */
  sender?: string;
  /**
   * `reliable` (TCP), or `unreliable` / `sequenced`: by UDP to every recipient whose UDP path is
   * bound, and to the others per `fallback`. For `send`, the schema's own `delivery` when absent.
   *
   * @default {"reliable"}
   */
  delivery?: Delivery;
  /**
   * For `unreliable` and `sequenced`: recipients without a UDP path get it over TCP (`tcp`) or
   * not at all (`none`, counted as `unavailable`).
   *
   * @default {the server's `udp.fallback` ("tcp")}
   */
  fallback?: UdpFallback;
}

/** Options of a broadcast `emitWithAck`. */
export interface BroadcastAckOptions {
  /**
   * Milliseconds to wait for each recipient's acknowledgement.
   *
   * @default {the server's `ackTimeout` (10000)}
   */
  timeout?: number;
}

/** One recipient's answer to a broadcast with acknowledgement. */
export type AckResult<Reply> =
  | { readonly socketId: string; readonly ok: true; readonly value: Reply }
  | { readonly socketId: string; readonly ok: false; readonly error: Error };

// deno-lint-ignore no-explicit-any
type AnyNamespace = Namespace<any, any, any>;

/**
 * A set of recipients in one namespace: members of some rooms (all sockets when none), minus
 * some rooms and sockets.
 *
 * @typeParam Emit The events the server sends.
 */
export class BroadcastOperator<Emit extends EventsMap = DefaultEvents> {
  #nsp: AnyNamespace;
  #rooms: ReadonlySet<string>;
  #except: ReadonlySet<string>;
  #sender: string | undefined;

  /**
   * Made by `to`, `in`, `except` and `broadcast` of namespaces and sockets.
   *
   * @ignore
   */
  constructor(
    nsp: AnyNamespace,
    rooms: ReadonlySet<string>,
    except: ReadonlySet<string>,
    sender?: string,
  ) {
    this.#nsp = nsp;
    this.#rooms = rooms;
    this.#except = except;
    this.#sender = sender;
  }

  /**
   * Adds rooms to the target.
   *
   * @param rooms A room or several.
   * @returns A new target.
   */
  to(rooms: string | readonly string[]): BroadcastOperator<Emit> {
    return new BroadcastOperator(this.#nsp, union(this.#rooms, rooms), this.#except, this.#sender);
  }

  /**
   * Same as {@linkcode BroadcastOperator.to}.
   *
   * @param rooms A room or several.
   * @returns A new target.
   */
  in(rooms: string | readonly string[]): BroadcastOperator<Emit> {
    return this.to(rooms);
  }

  /**
   * Excludes the members of rooms (a socket id excludes that socket).
   *
   * @param rooms A room or several.
   * @returns A new target.
   */
  except(rooms: string | readonly string[]): BroadcastOperator<Emit> {
    return new BroadcastOperator(this.#nsp, this.#rooms, union(this.#except, rooms), this.#sender);
  }

  /**
   * Sends an event to every recipient, encoded once. To exactly one room (not a socket's own),
   * it travels as a room event, which tells receivers the room and the sender.
   *
   * @param event The event's name.
   * @param args The payload, then options (`volatile`, `sender`, `delivery`, `fallback`).
   * @returns How many recipients it was queued for (over TCP and UDP), dropped by, disconnected,
   *   or could not reach by UDP.
   * @throws {TypeError} For a reserved or invalid name, or a payload that cannot be encoded.
   * @throws {RangeError} When the payload exceeds 65535 bytes or the frame `maxFrameSize`.
   */
  emit<E extends EventNames<Emit>>(
    event: E,
    ...args: EmitArgs<Emit[E], BroadcastOptions>
  ): BroadcastResult {
    checkEventName(event);
    const [data, options] = args;
    const encoded = encodePayload(data as Payload);
    const nsp = this.#nsp;
    const core = nsp.core;
    const id = core.eventNames.id(event);
    const sender = options?.sender ?? this.#sender;
    const room = this.#rooms.size === 1 ? [...this.#rooms][0]! : undefined;
    const asRoomEvent = room !== undefined && !nsp.sockets.has(room);
    const maxFrameSize = core.options.maxFrameSize;
    const packet = new SharedFrame(
      (channel) =>
        asRoomEvent
          ? encodeFrame(RoomEvent, {
            room,
            event: id,
            ...encoded,
            ...(sender === undefined ? {} : { sender }),
          }, { channel, maxFrameSize })
          : encodeFrame(Event, { event: id, ...encoded }, { channel, maxFrameSize }),
      {
        event,
        ...this.#sendOptions(options),
        onEncode: () => core.stats.framesEncoded++,
      },
    );
    return nsp.adapter.broadcast(packet, { rooms: this.#rooms, except: this.#except });
  }

  /**
   * Sends an event to every recipient and collects each one's acknowledgement. The promise
   * never rejects for a recipient's failure: it resolves, once every recipient has answered or
   * timed out, with one result per recipient, `ok` with the reply, or not `ok` with an
   * `AckTimeoutError`, an `AckError` or a `SocketClosedError`.
   *
   * @param event The event's name.
   * @param args The payload, then options (`timeout`).
   * @returns One result per recipient.
   */
  emitWithAck<E extends EventNames<Emit>>(
    event: E,
    ...args: EmitArgs<Emit[E], BroadcastAckOptions>
  ): Promise<AckResult<EventReply<Emit[E]>>[]> {
    try {
      checkEventName(event);
      const [data, options] = args;
      const encoded = encodePayload(data as Payload);
      const nsp = this.#nsp;
      const core = nsp.core;
      const id = core.eventNames.id(event);
      const ackId = core.ackIds.next();
      const timeout = options?.timeout ?? core.options.ackTimeout;
      const maxFrameSize = core.options.maxFrameSize;
      const packet = new SharedFrame(
        (channel) =>
          encodeFrame(Event, { event: id, ...encoded, ackId }, { channel, maxFrameSize }),
        { event, volatile: false, ackId, onEncode: () => core.stats.framesEncoded++ },
      );
      const results: AckResult<EventReply<Emit[E]>>[] = [];
      let expected = 0;
      let finish: () => void = () => {};
      const done = new Promise<void>((resolve) => finish = resolve);
      const collect = (socket: AnyServerSocket, status: string) => {
        expected++;
        if (status !== "queued") {
          results.push({ socketId: socket.id, ok: false, error: new SocketClosedError(nsp.name) });
          return;
        }
        socket.expectAck(ackId, event, timeout, (outcome) => {
          results.push(
            outcome.ok
              ? { socketId: socket.id, ok: true, value: outcome.value as EventReply<Emit[E]> }
              : { socketId: socket.id, ok: false, error: outcome.error },
          );
          if (results.length === expected) finish();
        });
      };
      nsp.broadcastWithAck(packet, { rooms: this.#rooms, except: this.#except }, collect);
      if (results.length === expected) finish();
      return done.then(() => results);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Sends an application message to every recipient as a message frame, encoded once.
   *
   * @param schema The message's schema; its `delivery`, if it declares one, applies unless
   *   `options` says otherwise.
   * @param value The message.
   * @param options `volatile`, `delivery`, `fallback`.
   * @returns How many recipients it was queued for (over TCP and UDP), dropped by, disconnected,
   *   or could not reach by UDP.
   */
  send<V extends object>(
    schema: Schema<V>,
    value: V,
    options?: BroadcastOptions,
  ): BroadcastResult {
    const nsp = this.#nsp;
    const core = nsp.core;
    const maxFrameSize = core.options.maxFrameSize;
    const packet = new SharedFrame(
      (channel) => encodeFrame(schema, value, { channel, maxFrameSize }),
      {
        ...this.#sendOptions(options, schema.definition.delivery),
        onEncode: () => core.stats.framesEncoded++,
      },
    );
    return nsp.adapter.broadcast(packet, { rooms: this.#rooms, except: this.#except });
  }

  #sendOptions(
    options: BroadcastOptions | undefined,
    declared?: Delivery,
  ): { volatile: boolean; delivery: Delivery; fallback: UdpFallback } {
    return {
      volatile: options?.volatile ?? false,
      delivery: options?.delivery ?? declared ?? "reliable",
      fallback: options?.fallback ?? this.#nsp.core.options.udp?.fallback ?? "tcp",
    };
  }

  /**
   * The ids of the sockets this target reaches now.
   *
   * @returns Socket ids.
   */
  socketIds(): string[] {
    return [...this.#nsp.adapter.targets({ rooms: this.#rooms, except: this.#except })];
  }

  /**
   * Disconnects every socket this target reaches (`server disconnect`).
   *
   * @param close Whether to close their whole connections.
   */
  disconnectSockets(close = false): void {
    for (const id of this.socketIds()) this.#nsp.sockets.get(id)?.disconnect(close);
  }
}

function union(set: ReadonlySet<string>, more: string | readonly string[]): ReadonlySet<string> {
  const result = new Set(set);
  if (typeof more === "string") result.add(more);
  else for (const room of more) result.add(room);
  return result;
}
