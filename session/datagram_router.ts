/**
 * A connection's UDP traffic, the same on both sides: which frames leave in datagrams (with the
 * declarations of their event names), and how the frames of a received datagram reach their
 * sockets (event names declared, the latest-only rule of `sequenced` applied).
 *
 * @module
 */

import {
  DatagramType,
  decodeDatagramFrames,
  Event,
  EventName,
  type Frame,
  type FrameReadOptions,
  ProtocolError,
  RoomEvent,
  ROOT_CHANNEL,
  type Schema,
} from "../protocol/mod.ts";
import type { DatagramDrop, DatagramPath } from "../transport/datagram_path.ts";
import type { SendStatus } from "../transport/transport.ts";
import type { Delivery, SendOptions, UdpFallback } from "./delivery.ts";
import { DatagramTooLargeError } from "./errors.ts";
import type { DeclaredEventIds, IncomingEventNames } from "./event_names.ts";

/** A namespace socket, as a datagram's frames reach it. */
export interface DatagramSocket {
  /** A message frame arrived. */
  receiveMessage(schema: Schema<object>, value: object, delivery: Delivery): void;
  /** A raw frame arrived. */
  receiveRaw(data: Uint8Array): void;
  /** An event arrived. */
  receiveEvent(
    event: string,
    payloadType: number,
    payload: Uint8Array | undefined,
    ackId: undefined,
    room: string | undefined,
    sender: string | undefined,
    delivery: Delivery,
  ): void;
}

/** What a connection gives its router. */
export interface DatagramRouterHost {
  /** The connection's UDP path, when it has one. */
  path(): DatagramPath | undefined;
  /** How received frames decode (schemas, size limit). */
  readonly decode: FrameReadOptions;
  /** The peer's event names. */
  readonly incoming: IncomingEventNames;
  /** This side's event names: ids, and the frames that declare them. */
  readonly outgoing: { id(event: string): number; frame(id: number): Uint8Array };
  /** The ids declared to the peer on this connection. */
  readonly declared: DeclaredEventIds;
  /** Sends a frame over TCP (an event name's declaration). */
  sendTcp(frame: Uint8Array): SendStatus;
  /** Whether raw frames are delivered. */
  readonly allowRaw: boolean;
  /**
   * The socket open on a channel, for a received frame: `undefined` when none is (the frame is
   * refused), `null` when the channel is closing (the frame is ignored).
   */
  socketAt(channel: number, frame: Frame): DatagramSocket | null | undefined;
}

/** Routes a connection's frames to and from its UDP path. */
export class DatagramRouter {
  #host: DatagramRouterHost;
  #sequenced: SequencedFilter | undefined;

  /**
   * Sets up the router of a connection.
   *
   * @param host What the connection gives it.
   */
  constructor(host: DatagramRouterHost) {
    this.#host = host;
  }

  /**
   * Sends a frame in a datagram when the path can carry it. The first datagram with an event
   * name declares it too; TCP declares it as well, so that later datagrams are understood even
   * when that one is lost.
   *
   * @param frame The frame.
   * @param options Its delivery class (not `reliable`) and fallback.
   * @param event The event name the frame's id stands for.
   * @returns `datagram` when queued; `tcp` when it must go over TCP; `unavailable` when not sent.
   * @throws {DatagramTooLargeError} When it does not fit a datagram and may not fall back.
   */
  send(
    frame: Uint8Array,
    options: SendOptions,
    event?: string,
  ): "datagram" | "tcp" | "unavailable" {
    const host = this.#host;
    const path = host.path();
    const delivery = options.delivery as "unreliable" | "sequenced";
    const id = event === undefined ? undefined : host.outgoing.id(event);
    if (id === undefined || host.declared.has(id)) {
      return sendOverUdp(path, delivery, options.fallback, frame);
    }
    const declaration = host.outgoing.frame(id);
    const route = sendOverUdp(path, delivery, options.fallback, declaration, frame);
    if (route === "datagram" && host.sendTcp(declaration) === "queued") host.declared.add(id);
    return route;
  }

  /**
   * Reads the frames of an authentic, fresh datagram. A datagram may carry message frames, raw
   * frames, events without ack requests, room events and event name declarations on channel 0;
   * anything else, a frame that fails to decode, or an event whose name was never declared is
   * dropped, and the connection stays open.
   *
   * @param type Unreliable or sequenced.
   * @param sequence The datagram's sequence number.
   * @param body The frames.
   * @returns Why (some of) the datagram was dropped, or `undefined`.
   */
  receive(type: DatagramType, sequence: number, body: Uint8Array): DatagramDrop | undefined {
    const host = this.#host;
    let frames: Frame[];
    try {
      frames = decodeDatagramFrames(body, host.decode);
    } catch (error) {
      return error instanceof ProtocolError && error.code === "truncated" ? "truncated" : "invalid";
    }
    const delivery = type === DatagramType.Sequenced ? "sequenced" : "unreliable";
    let dropped: DatagramDrop | undefined;
    for (const frame of frames) {
      if (frame.type === "control" && frame.schema === EventName) {
        if (!declare(host.incoming, frame)) dropped = "invalid";
      } else if (
        delivery === "sequenced" &&
        !(this.#sequenced ??= new SequencedFilter()).accept(frame, sequence)
      ) {
        dropped ??= "late";
      } else if (!deliverFrame(host, frame, delivery)) dropped = "invalid";
    }
    return dropped;
  }

  /**
   * Forgets a closed channel's latest sequence numbers.
   *
   * @param channel The channel.
   */
  forgetChannel(channel: number): void {
    this.#sequenced?.forgetChannel(channel);
  }
}

function declare(names: IncomingEventNames, frame: Frame): boolean {
  if (frame.channel !== ROOT_CHANNEL || frame.type !== "control") return false;
  const { id, name } = frame.value as { id: number; name: string };
  try {
    names.declare(id, name);
    return true;
  } catch {
    return false;
  }
}

function deliverFrame(
  reader: DatagramRouterHost,
  frame: Frame,
  delivery: "unreliable" | "sequenced",
): boolean {
  const socket = reader.socketAt(frame.channel, frame);
  if (socket === null) return true;
  if (socket === undefined) return false;
  if (frame.type === "message") {
    socket.receiveMessage(frame.schema, frame.value, delivery);
    return true;
  }
  if (frame.type === "raw") {
    if (!reader.allowRaw) return false;
    socket.receiveRaw(frame.data);
    return true;
  }
  if (frame.type !== "control" || (frame.schema !== Event && frame.schema !== RoomEvent)) {
    return false;
  }
  const value = frame.value as unknown as EventValue;
  if (value.ackId !== undefined) return false;
  let event: string;
  try {
    event = reader.incoming.name(value.event);
  } catch {
    return false;
  }
  socket.receiveEvent(
    event,
    value.payloadType,
    value.payload,
    undefined,
    value.room,
    value.sender,
    delivery,
  );
  return true;
}

/** The fields of an `Event` or `RoomEvent` that a datagram's event uses. */
interface EventValue {
  event: number;
  payloadType: number;
  payload?: Uint8Array;
  ackId?: number;
  room?: string;
  sender?: string;
}

/**
 * Sends frames over UDP when the path can carry them.
 *
 * @param path The connection's UDP path, if it has one.
 * @param delivery `unreliable` or `sequenced`.
 * @param fallback What to do when UDP cannot carry them.
 * @param frames The frames, which travel together (an event name's declaration, then the event).
 * @returns `datagram` when queued; `tcp` when they must go over TCP; `unavailable` when not sent.
 * @throws {DatagramTooLargeError} When they do not fit in a datagram and the fallback is `none`.
 */
export function sendOverUdp(
  path: DatagramPath | undefined,
  delivery: Exclude<Delivery, "reliable">,
  fallback: UdpFallback,
  ...frames: Uint8Array[]
): "datagram" | "tcp" | "unavailable" {
  if (path === undefined || !path.usable) return fallback === "tcp" ? "tcp" : "unavailable";
  let size = 0;
  for (const frame of frames) size += frame.length;
  if (size > path.maxBody) {
    if (fallback === "tcp") return "tcp";
    throw new DatagramTooLargeError(size, path.maxBody);
  }
  const type = delivery === "sequenced" ? DatagramType.Sequenced : DatagramType.Unreliable;
  path.queue(type, ...frames);
  return "datagram";
}

/** The most events, messages and rooms whose latest sequence number a connection remembers. */
export const MAX_SEQUENCED_KEYS = 4096;

/**
 * The latest-only rule of `sequenced` datagrams: for each event (or message schema) on each
 * channel, a frame from a datagram older than the last one delivered is dropped. Frames of one
 * datagram share its sequence number and are all delivered, in order.
 */
export class SequencedFilter {
  #last = new Map<string, number>();

  /**
   * Whether a frame of a sequenced datagram is delivered; if so, it becomes the latest.
   *
   * @param frame The frame.
   * @param sequence The datagram's sequence number.
   * @returns Whether to deliver it.
   */
  accept(frame: Frame, sequence: number): boolean {
    const key = sequenceKey(frame);
    const last = this.#last.get(key);
    if (last !== undefined && sequence < last) return false;
    // Room names come from the peer: the oldest key makes room, so the map stays bounded.
    if (last === undefined && this.#last.size >= MAX_SEQUENCED_KEYS) {
      this.#last.delete(this.#last.keys().next().value!);
    }
    this.#last.set(key, sequence);
    return true;
  }

  /** Forgets a channel's latest sequence numbers (its namespace was left). */
  forgetChannel(channel: number): void {
    const prefix = `${channel}:`;
    for (const key of this.#last.keys()) if (key.startsWith(prefix)) this.#last.delete(key);
  }
}

/** What "the same" update is for the latest-only rule: channel and event or message schema. */
function sequenceKey(frame: Frame): string {
  const channel = frame.channel;
  if (frame.type === "message") return `${channel}:m${frame.schema.code}.${frame.schema.version}`;
  if (frame.type === "control") {
    const value = frame.value as { event?: number; room?: string };
    if (value.room !== undefined) return `${channel}:r${value.event}:${value.room}`;
    return `${channel}:e${value.event}`;
  }
  return `${channel}:raw`;
}
