/**
 * Event name tables. Event names travel once per direction of a connection (`EventName`
 * frames on channel 0); events then carry a small numeric id.
 *
 * @module
 */

import { encodeFrame, EventName, LimitExceededError, ProtocolError } from "../protocol/mod.ts";

const utf8 = new TextEncoder();

/** How many event names one direction of a connection may declare. */
export const MAX_EVENT_NAMES = 4096;

/**
 * The sender's table: ids by name, and each name's `EventName` frame, encoded once. The server
 * keeps one table for all its connections, so that a broadcast's frame (which carries the id) is
 * encoded once for every recipient.
 */
export class OutgoingEventNames {
  #ids = new Map<string, number>();
  #frames: Uint8Array[] = [];

  /**
   * The id of an event name, assigned on first use.
   *
   * @param name The event name.
   * @returns Its id.
   */
  id(name: string): number {
    let id = this.#ids.get(name);
    if (id === undefined) {
      id = this.#frames.length;
      this.#ids.set(name, id);
      this.#frames.push(encodeFrame(EventName, { id, name }).slice());
    }
    return id;
  }

  /**
   * The `EventName` frame that declares an id.
   *
   * @param id An id that {@linkcode OutgoingEventNames.id} returned.
   * @returns The frame's bytes.
   */
  frame(id: number): Uint8Array {
    return this.#frames[id]!;
  }
}

/** Which ids one connection has been told about, so each is declared once per connection. */
export class DeclaredEventIds {
  #declared: Set<number> | undefined;

  /**
   * Marks an id as declared.
   *
   * @param id The id.
   * @returns `true` when it was not declared before (so the declaration must be sent).
   */
  add(id: number): boolean {
    const declared = this.#declared ??= new Set();
    if (declared.has(id)) return false;
    declared.add(id);
    return true;
  }

  /**
   * Whether an id has been declared.
   *
   * @param id The id.
   * @returns Whether it was.
   */
  has(id: number): boolean {
    return this.#declared?.has(id) ?? false;
  }

  /**
   * Forgets a declaration that was not sent after all (its frame was dropped or refused), so the
   * next use of the id declares it again.
   *
   * @param id The id.
   */
  delete(id: number): void {
    this.#declared?.delete(id);
  }
}

/** The receiver's table: names by id, for one direction of one connection. */
export class IncomingEventNames {
  #names: Map<number, string> | undefined;
  #maxLength: number;

  /**
   * Creates an empty table.
   *
   * @param maxLength The longest name accepted, in UTF-8 bytes.
   */
  constructor(maxLength = Infinity) {
    this.#maxLength = maxLength;
  }

  /**
   * Records a declaration.
   *
   * @param id The id.
   * @param name The name.
   * @throws {ProtocolError} When the id is declared with another name, or too many names are.
   * @throws {LimitExceededError} When the name is longer than the table's limit.
   */
  declare(id: number, name: string): void {
    const names = this.#names ??= new Map();
    const known = names.get(id);
    if (known === name) return;
    // A UTF-8 byte count only when the name might be too long (at most 3 bytes a UTF-16 unit).
    if (name.length * 3 > this.#maxLength && utf8.encode(name).length > this.#maxLength) {
      throw new LimitExceededError(
        "event_name_length",
        this.#maxLength,
        `An event name of more than ${this.#maxLength} bytes was declared`,
      );
    }
    if (known !== undefined) {
      throw new ProtocolError("protocol_violation", `Event id ${id} was declared twice`);
    }
    if (names.size >= MAX_EVENT_NAMES) {
      throw new ProtocolError(
        "protocol_violation",
        `More than ${MAX_EVENT_NAMES} event names were declared`,
      );
    }
    names.set(id, name);
  }

  /**
   * The name of an id.
   *
   * @param id The id.
   * @returns The name.
   * @throws {ProtocolError} When the id was never declared.
   */
  name(id: number): string {
    const name = this.#names?.get(id);
    if (name === undefined) {
      throw new ProtocolError("protocol_violation", `Event id ${id} was never declared`);
    }
    return name;
  }
}
