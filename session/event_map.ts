/**
 * Typed event maps: an application describes its events once, as a map from event name to a
 * handler signature, and `emit`, `on` and `emitWithAck` are checked against it by the compiler.
 *
 * ```ts ignore
 * interface ServerEvents {
 *   hello: (message: string) => void;        // emit("hello", "hi")
 *   vote: (choice: number) => boolean;       // emitWithAck("vote", 2) resolves to a boolean
 *   tick: () => void;                        // emit("tick")
 * }
 * ```
 *
 * @module
 */

import type { Payload } from "./payload.ts";

/**
 * A map from event name to the signature of its handler: `(data) => reply`. Declare yours as an
 * interface or a type; each member should be a function type.
 */
export interface EventsMap {
  /** An event's handler signature. */
  // `any`, not a function type: an interface without an index signature is then still a map.
  // deno-lint-ignore no-explicit-any
  [event: string]: any;
}

/** The map used when none is given: any event name, any payload, any reply. */
export interface DefaultEvents {
  /** Any event: any payload, any reply. */
  [event: string]: (data: Payload) => Payload;
}

/** The event names of a map. */
export type EventNames<Map extends EventsMap> = keyof Map & string;

/** The payload of an event: its handler's first parameter, `undefined` when it has none. */
export type EventData<F> = F extends (...args: infer A) => unknown ? A extends [] ? undefined : A[0]
  : never;

/** The reply to an event: its handler's return type, without the promise. */
export type EventReply<F> = F extends (...args: never[]) => infer R ? Awaited<R> : never;

/** What a receiver learns about an event besides its payload. */
export interface EventInfo {
  /** For an event sent to a room: the room. */
  readonly room?: string;
  /** For an event relayed from another socket: that socket's id. */
  readonly sender?: string;
  /** Whether the sender waits for an acknowledgement (the handler's return value). */
  readonly wantsAck: boolean;
  /** For an event that came over UDP: `unreliable` or `sequenced`; absent over TCP. */
  readonly delivery?: "unreliable" | "sequenced";
}

/**
 * A handler of an event: it gets the payload and the event's info; what it returns (or resolves
 * to) is the acknowledgement sent back when the sender asked for one, and what it throws is sent
 * back as an error.
 */
export type EventHandler<F> = (
  data: EventData<F>,
  info: EventInfo,
) => EventReply<F> | Promise<EventReply<F>> | void | Promise<void>;

/**
 * The arguments of `emit` after the event name: the payload (optional when it may be `undefined`,
 * as with no payload or the default map's `Payload`) and options.
 */
export type EmitArgs<F, Options> = [undefined] extends [EventData<F>]
  ? [data?: EventData<F>, options?: Options]
  : [data: EventData<F>, options?: Options];

/**
 * Event names the library uses itself, refused by `emit` and `on` for application events with a
 * `TypeError`.
 */
export const RESERVED_EVENTS: ReadonlySet<string> = new Set([
  "connect",
  "connect_error",
  "connection",
  "disconnect",
  "disconnecting",
  "error",
  "raw",
  "open",
  "close",
  "handshake",
  "ping",
  "pong",
  "room_joined",
  "room_left",
  "member_entered",
  "member_left",
  "room_created",
  "room_deleted",
  "newListener",
  "removeListener",
]);

/** The longest event name, in UTF-16 code units. */
export const MAX_EVENT_NAME_LENGTH = 255;

/**
 * Checks an application event name.
 *
 * @param event The name.
 * @throws {TypeError} When it is empty, too long, or reserved.
 */
export function checkEventName(event: string): void {
  if (typeof event !== "string" || event.length === 0) {
    throw new TypeError("An event name must be a non-empty string");
  }
  if (event.length > MAX_EVENT_NAME_LENGTH) {
    throw new TypeError(`An event name must be at most ${MAX_EVENT_NAME_LENGTH} characters`);
  }
  if (RESERVED_EVENTS.has(event)) {
    throw new TypeError(`"${event}" is a reserved event name`);
  }
}
