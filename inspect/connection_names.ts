/**
 * Names what a connection's frames refer to by number: channels (namespaces) and event ids.
 *
 * @module
 */

import {
  Connect,
  Event,
  EventName,
  type Frame,
  Handshake,
  RoomEvent,
  ROOT_CHANNEL,
} from "../protocol/mod.ts";

/** The namespace and event name of a frame, as far as its connection has declared them. */
export interface FrameNames {
  /** The namespace of the frame's channel, when a `Connect` or `Handshake` named it. */
  namespace: string | undefined;
  /**
   * For `Event` and `RoomEvent` frames, the event's name when an `EventName` frame of the same
   * direction declared its id.
   */
  eventName: string | undefined;
}

/**
 * What one connection has declared so far: channel → namespace (from `Connect` and `Handshake`
 * frames in either direction; channel 0 is `/`) and, per direction, event id → event name (from
 * `EventName` frames). Feed it every frame of the connection in the order they crossed it.
 *
 * @example
 * ```ts
 * import { ConnectionNames } from "@game-socket/game-socket/inspect";
 * import { Connect, decodeFrame, encodeFrame, Ping } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const names = new ConnectionNames();
 * names.name(decodeFrame(encodeFrame(Connect, { namespace: "/home", channel: 1 })), "C>S");
 * const ping = decodeFrame(encodeFrame(Ping, { timestamp: 1 }, { channel: 1 }));
 * assert.equal(names.name(ping, "C>S").namespace, "/home");
 * ```
 */
export class ConnectionNames {
  #channels = new Map<number, string>([[ROOT_CHANNEL, "/"]]);
  #events = new Map<unknown, Map<number, string>>();

  /**
   * Learns what `frame` declares and names what it refers to.
   *
   * @param frame The next frame of the connection.
   * @param direction Which direction it travelled in: any value that tells the two apart.
   * @returns Its namespace and event name, where known.
   */
  name(frame: Frame, direction: unknown): FrameNames {
    if (frame.type !== "control") {
      return { namespace: this.#channels.get(frame.channel), eventName: undefined };
    }
    if (frame.schema === Connect || frame.schema === Handshake) {
      const { namespace, channel } = frame.value as { namespace: string; channel: number };
      this.#channels.set(channel, namespace);
    }
    let events = this.#events.get(direction);
    if (events === undefined) this.#events.set(direction, events = new Map());
    const value = frame.value as { id?: number; name?: string; event?: number };
    if (frame.schema === EventName) events.set(value.id!, value.name!);
    const eventName = frame.schema === Event || frame.schema === RoomEvent
      ? events.get(value.event!)
      : undefined;
    return { namespace: this.#channels.get(frame.channel), eventName };
  }
}
