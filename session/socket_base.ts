/**
 * What a namespace socket is on either side: listeners of lifecycle events, application events
 * and message frames; emits with and without acknowledgement; and the handling of incoming
 * events and acks. `ServerSocket` and `ClientSocket` extend it with what only one side has.
 *
 * @module
 */

import {
  Ack,
  encodeFrame,
  encodeRawFrame,
  Event,
  LimitExceededError,
  PayloadType,
  type Schema,
  type SchemaRegistry,
} from "../protocol/mod.ts";
import { type AckOutcome, AckTracker } from "./ack_tracker.ts";
import {
  type Delivery,
  type DeliveryStatus,
  RELIABLE,
  type SendOptions,
  type UdpFallback,
} from "./delivery.ts";
import { SocketClosedError } from "./errors.ts";
import {
  checkEventName,
  type EmitArgs,
  type EventHandler,
  type EventInfo,
  type EventNames,
  type EventReply,
  type EventsMap,
} from "./event_map.ts";
import { Listeners } from "./listeners.ts";
import { decodePayload, encodePayload, type Payload } from "./payload.ts";
import type { TimerQueue } from "./timer_queue.ts";

/**
 * What became of an emit:
 * - `sent`: queued for the peer over TCP;
 * - `sent_udp`: queued for the peer in a datagram (`unreliable` and `sequenced` emits);
 * - `dropped`: volatile, and the connection's send queue was full, so it was discarded;
 * - `overflow`: the send queue was full, so the connection closed (`send queue overflow`);
 * - `unavailable`: UDP could not carry it and its `fallback` is `none`, so nothing was sent;
 * - `closed`: the socket was disconnected already, so nothing happened.
 */
export type EmitStatus = "sent" | "sent_udp" | "dropped" | "overflow" | "unavailable" | "closed";

/** Options of `emit`, `send` and `sendRaw`. */
export interface EmitOptions {
  /**
   * Whether the frame may be dropped (and counted) when the connection's send queue is full,
   * rather than closing the connection. For state that the next update replaces.
   *
   * @default {false}
   */
  volatile?: boolean;
  /**
   * `reliable` (TCP), `unreliable` (UDP, may be lost or reordered) or `sequenced` (UDP, latest
   * only). For `send`, the schema's own `delivery` when absent.
   *
   * @default {"reliable"}
   */
  delivery?: Delivery;
  /**
   * What an `unreliable` or `sequenced` emit does when UDP cannot carry it: `tcp` sends it over
   * TCP, `none` leaves it unsent (`unavailable`, or `DatagramTooLargeError` when too large).
   *
   * @default {the `udp.fallback` option of the server or client ("tcp")}
   */
  fallback?: UdpFallback;
}

/** Options of `emitWithAck`. */
export interface AckOptions {
  /**
   * Milliseconds to wait for the acknowledgement.
   *
   * @default {the `ackTimeout` option of the server or client (10000)}
   */
  timeout?: number;
}

/**
 * What sockets need from their side of the connection: one object per server or client, shared
 * by all its sockets (so that a socket holds no closures of its own).
 */
export interface SocketLink {
  /** The one timer queue, for ack timeouts. */
  readonly timers: TimerQueue;
  /** The default ack timeout, in milliseconds. */
  readonly ackTimeout: number;
  /** What unreliable emits do when UDP cannot carry them, unless they say. */
  readonly fallback: UdpFallback;
  /**
   * The most events with an ack one socket may have waiting for their handlers' replies; one
   * more throws a `LimitExceededError` (the connection closes). Absent: no limit.
   */
  readonly maxPendingAcks?: number;
  /** The largest frame the peer accepts. */
  maxFrameSize(): number;
  /** A fresh ack id. */
  nextAckId(): number;
  /** The id of an event name in this direction. */
  eventId(event: string): number;
  /**
   * Sends a frame of a socket (after declaring `event` on its connection where needed).
   *
   * @param socket The socket whose frame it is.
   * @param frame The frame.
   * @param options Volatility, delivery class and fallback.
   * @param event The event name the frame's id stands for.
   * @returns What became of it.
   * @throws {DatagramTooLargeError} When it does not fit a datagram and may not fall back.
   */
  send(
    // deno-lint-ignore no-explicit-any
    socket: SocketBase<any, any, any>,
    frame: Uint8Array,
    options: SendOptions,
    event?: string,
  ): DeliveryStatus;
  /** Counts a frame a socket encoded. */
  encoded(): void;
}

/** Where a socket is: its namespace, its channel, and the namespace's schemas. */
export interface SocketPlace {
  /** The namespace's name. */
  readonly namespace: string;
  /** The channel the namespace uses on the connection. */
  readonly channel: number;
  /** The application's schemas in the namespace, for message payloads. */
  readonly schemas: SchemaRegistry;
}

// deno-lint-ignore no-explicit-any
type AnyListener = (...args: any[]) => unknown;

/**
 * The part of a namespace socket that both sides share.
 *
 * @typeParam Listen Events the peer sends (what `on` hears).
 * @typeParam Emit Events this side sends (what `emit` takes).
 * @typeParam Lifecycle The socket's own events (`disconnect` and the like).
 */
export abstract class SocketBase<
  Listen extends EventsMap,
  Emit extends EventsMap,
  Lifecycle extends EventsMap,
> {
  /** The channel the namespace uses on this connection. */
  readonly channel: number;
  /** The application's schemas in this namespace. */
  readonly schemas: SchemaRegistry;
  #namespace: string;
  #link: SocketLink;
  #lifecycleNames: ReadonlySet<string>;
  /**
   * Every listener of the socket, made on the first: lifecycle events by name, application
   * events as `e:name`, message frames as `m:code.version`, and `*` for `onAny`.
   */
  #listenersOrNone: Listeners | undefined;
  #acks: AckTracker;
  /** Events with an ack whose (async) handlers have not replied yet. */
  #owed = 0;

  /**
   * Sets up the socket; listeners are made on the first `on`.
   *
   * @param link What the socket needs from its side, shared by every socket of that side.
   * @param place The socket's namespace, channel and schemas.
   * @param lifecycleNames The names of the socket's own events.
   */
  protected constructor(
    link: SocketLink,
    place: SocketPlace,
    lifecycleNames: ReadonlySet<string>,
  ) {
    this.#link = link;
    this.#namespace = place.namespace;
    this.channel = place.channel;
    this.schemas = place.schemas;
    this.#lifecycleNames = lifecycleNames;
    this.#acks = new AckTracker(link.timers);
  }

  get #listeners(): Listeners {
    return this.#listenersOrNone ??= new Listeners((error, event) => {
      if (event === "error") this.unhandledError(error);
      else this.reportError(error);
    });
  }

  /** Whether the socket is connected. */
  abstract get connected(): boolean;

  /**
   * Whether emits are taken: while connected, and while a dropped connection may still be
   * resumed (they are then kept and sent on recovery).
   */
  protected get sendable(): boolean {
    return this.connected;
  }

  /**
   * Adds a listener of one of the socket's own events.
   *
   * @param event The event.
   * @param listener The listener.
   * @returns This socket.
   */
  on<E extends keyof Lifecycle & string>(event: E, listener: Lifecycle[E]): this;
  /**
   * Adds a listener of an application event: it gets the payload and the event's info, and
   * what it returns (or resolves to) is the acknowledgement when the sender asks for one.
   *
   * @param event The event.
   * @param listener The listener.
   * @returns This socket.
   * @throws {TypeError} For a reserved or invalid name.
   */
  on<E extends EventNames<Listen>>(event: E, listener: EventHandler<Listen[E]>): this;
  on(event: string, listener: AnyListener): this {
    this.#listeners.on(this.#keyOf(event), listener);
    return this;
  }

  /**
   * Adds a listener of one of the socket's own events that runs once.
   *
   * @param event The event.
   * @param listener The listener.
   * @returns This socket.
   */
  once<E extends keyof Lifecycle & string>(event: E, listener: Lifecycle[E]): this;
  /**
   * Adds a listener of an application event that runs once.
   *
   * @param event The event.
   * @param listener The listener.
   * @returns This socket.
   * @throws {TypeError} For a reserved or invalid name.
   */
  once<E extends EventNames<Listen>>(event: E, listener: EventHandler<Listen[E]>): this;
  once(event: string, listener: AnyListener): this {
    this.#listeners.once(this.#keyOf(event), listener);
    return this;
  }

  /**
   * Removes a listener, or all of an event's.
   *
   * @param event The event.
   * @param listener The listener; every one of the event when absent.
   * @returns This socket.
   */
  off(event: string, listener?: (...args: never[]) => unknown): this {
    const key = this.#lifecycleNames.has(event) ? event : `e:${event}`;
    this.#listenersOrNone?.off(key, listener as AnyListener | undefined);
    return this;
  }

  /**
   * Adds a listener of every application event, called before the event's own listeners (for
   * logging and tools such as `deno task dump`). It does not answer acknowledgements.
   *
   * @param listener Gets the event's name, payload and info.
   * @returns This socket.
   */
  onAny(listener: (event: string, data: Payload, info: EventInfo) => void): this {
    this.#listeners.on("*", listener);
    return this;
  }

  /**
   * Removes a listener of every event, or all of them.
   *
   * @param listener The listener; every one when absent.
   * @returns This socket.
   */
  offAny(listener?: (event: string, data: Payload, info: EventInfo) => void): this {
    this.#listenersOrNone?.off("*", listener as AnyListener | undefined);
    return this;
  }

  /**
   * Adds a listener of an application message sent as a message frame (`send` on the other
   * side): the cheapest form, for game state.
   *
   * @param schema The message's schema.
   * @param listener Gets the message's value, and how it travelled.
   * @returns This socket.
   */
  onMessage<V extends object>(
    schema: Schema<V>,
    listener: (value: V, info: MessageInfo) => void,
  ): this {
    this.#listeners.on(messageKey(schema), listener);
    return this;
  }

  /**
   * Removes a message listener, or all of a schema's.
   *
   * @param schema The message's schema.
   * @param listener The listener; every one of the schema when absent.
   * @returns This socket.
   */
  offMessage<V extends object>(
    schema: Schema<V>,
    listener?: (value: V, info: MessageInfo) => void,
  ): this {
    this.#listenersOrNone?.off(messageKey(schema), listener as AnyListener | undefined);
    return this;
  }

  /**
   * Sends an event to the peer.
   *
   * @param event The event's name.
   * @param args The payload, then options (`volatile`, `delivery`, `fallback`).
   * @returns What became of it (and which transport carried it); `closed` (a no-op) when the
   *   socket is disconnected.
   * @throws {TypeError} For a reserved or invalid name, or a payload that cannot be encoded.
   * @throws {RangeError} When the payload exceeds 65535 bytes or the frame the peer's limit.
   * @throws {DatagramTooLargeError} When an unreliable event does not fit in a datagram and its
   *   `fallback` is `none`.
   */
  emit<E extends EventNames<Emit>>(event: E, ...args: EmitArgs<Emit[E], EmitOptions>): EmitStatus {
    checkEventName(event);
    const [data, options] = args;
    if (!this.sendable) return "closed";
    const frame = this.#encodeEvent(event, data as Payload, undefined);
    return this.transmit(frame, this.sendOptions(options), event);
  }

  /**
   * Sends an event and waits for the peer's acknowledgement (its handler's return value).
   *
   * @param event The event's name.
   * @param args The payload, then options (`timeout`).
   * @returns The reply.
   * @throws {AckTimeoutError} When no acknowledgement arrives in time.
   * @throws {AckError} When the peer's handler failed, or it had none.
   * @throws {SocketClosedError} When the socket is or becomes disconnected first.
   */
  emitWithAck<E extends EventNames<Emit>>(
    event: E,
    ...args: EmitArgs<Emit[E], AckOptions>
  ): Promise<EventReply<Emit[E]>> {
    try {
      checkEventName(event);
      const [data, options] = args;
      if (!this.sendable) return Promise.reject(this.#closedError());
      const link = this.#link;
      const ackId = link.nextAckId();
      const frame = this.#encodeEvent(event, data as Payload, ackId);
      return new Promise((resolve, reject) => {
        this.expectAck(ackId, event, options?.timeout ?? link.ackTimeout, (outcome) => {
          if (outcome.ok) resolve(outcome.value as EventReply<Emit[E]>);
          else reject(outcome.error);
        });
        if (this.transmit(frame, RELIABLE, event) !== "sent") {
          this.#acks.settle(ackId, { ok: false, error: this.#closedError() });
        }
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Sends an application message as a message frame: no event name, no payload type, the
   * cheapest form. The peer hears it with `onMessage(schema, ...)`.
   *
   * @param schema The message's schema (registered on both sides); its `delivery`, if it
   *   declares one, applies unless `options` says otherwise.
   * @param value The message.
   * @param options `volatile`, `delivery`, `fallback`.
   * @returns What became of it (and which transport carried it).
   * @throws {TypeError} When a field is missing or has the wrong type.
   * @throws {RangeError} When a value is out of range, or the frame exceeds the peer's limit.
   * @throws {DatagramTooLargeError} When an unreliable message does not fit in a datagram and
   *   its `fallback` is `none`.
   */
  send<V extends object>(schema: Schema<V>, value: V, options?: EmitOptions): EmitStatus {
    if (!this.sendable) return "closed";
    const link = this.#link;
    const frame = encodeFrame(schema, value, {
      channel: this.channel,
      maxFrameSize: link.maxFrameSize(),
    });
    link.encoded();
    return this.transmit(frame, this.sendOptions(options, schema.definition.delivery));
  }

  /**
   * Sends raw bytes on the socket's channel (a raw frame), for a peer that allows them.
   *
   * @param data The bytes.
   * @param options `volatile`, `delivery`, `fallback`.
   * @returns What became of them.
   */
  sendRaw(data: Uint8Array, options?: EmitOptions): EmitStatus {
    if (!this.sendable) return "closed";
    const frame = encodeRawFrame(data, {
      channel: this.channel,
      maxFrameSize: this.#link.maxFrameSize(),
    });
    return this.transmit(frame, this.sendOptions(options));
  }

  /** Acknowledgements awaited from the peer, and those ignored (late, duplicate, unknown). */
  get ackStats(): { readonly pending: number; readonly ignored: number } {
    return { pending: this.#acks.size, ignored: this.#acks.ignored };
  }

  /**
   * Awaits an acknowledgement. Called by `emitWithAck` and by broadcasts with acks.
   *
   * @ignore
   */
  expectAck(
    ackId: number,
    event: string,
    timeout: number,
    settle: (outcome: AckOutcome) => void,
  ): void {
    this.#acks.add(ackId, event, timeout, settle);
  }

  /**
   * An event arrived: decode its payload, call its listeners, answer when asked.
   *
   * @ignore
   */
  receiveEvent(
    event: string,
    payloadType: number,
    payload: Uint8Array | undefined,
    ackId: number | undefined,
    room?: string,
    sender?: string,
    delivery?: Delivery,
  ): void {
    const data = decodePayload(payloadType, payload, this.schemas);
    const info: EventInfo = {
      wantsAck: ackId !== undefined,
      ...(room === undefined ? {} : { room }),
      ...(sender === undefined ? {} : { sender }),
      ...(delivery === undefined || delivery === "reliable" ? {} : { delivery }),
    };
    const listeners = this.#listenersOrNone;
    listeners?.emit("*", event, data, info);
    const key = `e:${event}`;
    if (listeners === undefined || !listeners.has(key)) {
      if (ackId !== undefined) this.#replyError(ackId, `No handler for "${event}"`);
      return;
    }
    const max = this.#link.maxPendingAcks;
    if (ackId !== undefined && max !== undefined && this.#owed >= max) {
      throw new LimitExceededError(
        "pending_acks",
        max,
        `More than ${max} events of ${this.#namespace} await their handlers' replies`,
      );
    }
    const result = listeners.emit(key, data, info);
    if (ackId === undefined) return;
    if (result instanceof Promise) {
      this.#owed++;
      result.then(
        (value) => {
          this.#owed--;
          this.#reply(ackId, value);
        },
        (error) => {
          this.#owed--;
          this.#replyError(ackId, error instanceof Error ? error.message : String(error));
        },
      );
    } else this.#reply(ackId, result);
  }

  /**
   * An acknowledgement arrived.
   *
   * @ignore
   */
  receiveAck(ackId: number, payloadType: number, payload?: Uint8Array, error?: string): void {
    if (error !== undefined) this.#acks.fail(ackId, error);
    else {
      const data = decodePayload(payloadType, payload, this.schemas);
      this.#acks.settle(ackId, { ok: true, value: data });
    }
  }

  /**
   * A message frame arrived.
   *
   * @ignore
   */
  receiveMessage(schema: Schema<object>, value: object, delivery: Delivery = "reliable"): void {
    this.#listenersOrNone?.emit(
      messageKey(schema),
      value,
      delivery === "reliable" ? RELIABLE_MESSAGE : { delivery },
    );
  }

  /**
   * Calls the listeners of one of the socket's own events.
   *
   * @param event The event.
   * @param args Its arguments.
   */
  protected emitLifecycle(event: keyof Lifecycle & string, ...args: unknown[]): void {
    this.#listenersOrNone?.emit(event, ...args);
  }

  /**
   * Rejects every acknowledgement still awaited, when the socket disconnects.
   *
   * @param error What each awaiting caller gets.
   */
  protected failAcks(error: Error): void {
    this.#acks.failAll(error);
  }

  /**
   * Sends a frame the socket made; subclasses count it.
   *
   * @param frame The frame.
   * @param options Volatility, delivery class and fallback.
   * @param event The event name its id stands for.
   * @returns What became of it.
   */
  protected transmit(frame: Uint8Array, options: SendOptions, event?: string): EmitStatus {
    const status = this.#link.send(this, frame, options, event);
    return status === "queued" ? "sent" : status === "datagram" ? "sent_udp" : status;
  }

  /**
   * Reports a listener's error: on the socket's `error` event when it has listeners, else to
   * {@linkcode SocketBase.unhandledError}.
   *
   * @param error What the listener threw.
   */
  protected reportError(error: unknown): void {
    const listeners = this.#listenersOrNone;
    if (listeners?.has("error")) listeners.emit("error", error);
    else this.unhandledError(error);
  }

  /**
   * Where an error goes that no `error` listener of the socket took.
   *
   * @param error The error.
   */
  protected abstract unhandledError(error: unknown): void;

  #keyOf(event: string): string {
    if (this.#lifecycleNames.has(event)) return event;
    checkEventName(event);
    return `e:${event}`;
  }

  /**
   * How an emit with `options` travels.
   *
   * @param options The emit's options.
   * @param declared The delivery its schema declares, if any.
   * @returns Volatility, delivery class and fallback.
   */
  protected sendOptions(options: EmitOptions | undefined, declared?: Delivery): SendOptions {
    const delivery = options?.delivery ?? declared ?? "reliable";
    const volatile = options?.volatile ?? false;
    if (delivery === "reliable" && !volatile) return RELIABLE;
    return { volatile, delivery, fallback: options?.fallback ?? this.#link.fallback };
  }

  #closedError(): SocketClosedError {
    return new SocketClosedError(this.#namespace);
  }

  #encodeEvent(event: string, data: Payload, ackId: number | undefined): Uint8Array {
    const link = this.#link;
    const frame = encodeFrame(Event, {
      event: link.eventId(event),
      ...encodePayload(data),
      ...(ackId === undefined ? {} : { ackId }),
    }, { channel: this.channel, maxFrameSize: link.maxFrameSize() });
    link.encoded();
    return frame;
  }

  #reply(ackId: number, value: unknown): void {
    if (!this.sendable) return;
    let frame: Uint8Array;
    try {
      frame = encodeFrame(Ack, { ackId, ...encodePayload(value as Payload) }, {
        channel: this.channel,
        maxFrameSize: this.#link.maxFrameSize(),
      });
    } catch (error) {
      this.reportError(error);
      return this.#replyError(ackId, "The reply could not be encoded");
    }
    this.transmit(frame, RELIABLE);
  }

  #replyError(ackId: number, message: string): void {
    if (!this.sendable) return;
    const text = message.length > 1000 ? message.slice(0, 1000) : message;
    const frame = encodeFrame(Ack, { ackId, payloadType: PayloadType.None, error: text }, {
      channel: this.channel,
    });
    this.transmit(frame, RELIABLE);
  }
}

const RELIABLE_MESSAGE: MessageInfo = { delivery: "reliable" };

/** What a message listener learns besides the message. */
export interface MessageInfo {
  /** How the message travelled: `reliable` (TCP), `unreliable` or `sequenced` (UDP). */
  readonly delivery: Delivery;
}

function messageKey(schema: Schema<object>): string {
  return `m:${schema.code}.${schema.version}`;
}
