/**
 * The namespaces open on one connection, by channel id.
 *
 * @module
 */

import { MAX_CHANNEL, ROOT_CHANNEL } from "./constants.ts";

/**
 * Maps the short numeric channel ids of a connection to namespace names. Channel 0 is the root
 * namespace "/" and is always open. A {@linkcode FrameDecoder} given a table refuses frames on
 * channels that are not open.
 *
 * @example
 * ```ts
 * import { ChannelTable } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const channels = new ChannelTable();
 * channels.open(1, "/home");
 * assert.equal(channels.name(1), "/home");
 * assert.equal(channels.id("/home"), 1);
 * assert.equal(channels.has(2), false);
 * ```
 */
export class ChannelTable {
  // The root channel is implicit; the maps hold the others and are made on the first open, so
  // that a connection with only "/" costs no map.
  #names: Map<number, string> | undefined;
  #ids: Map<string, number> | undefined;

  /**
   * Opens a channel for a namespace.
   *
   * @param id The channel id, 1..65535.
   * @param namespace The namespace name.
   * @throws {RangeError} When the id is out of range, or the id or namespace is already open.
   */
  open(id: number, namespace: string): void {
    if (!Number.isInteger(id) || id < 1 || id > MAX_CHANNEL) {
      throw new RangeError(`Cannot open channel ${id}: ids are 1..${MAX_CHANNEL}`);
    }
    if (this.has(id)) throw new RangeError(`Cannot open channel ${id}: already open`);
    if (this.id(namespace) !== undefined) {
      throw new RangeError(`Cannot open channel ${id}: namespace ${namespace} is already open`);
    }
    (this.#names ??= new Map()).set(id, namespace);
    (this.#ids ??= new Map()).set(namespace, id);
  }

  /**
   * Closes a channel. Closing the root channel or a closed one does nothing.
   *
   * @param id The channel id.
   */
  close(id: number): void {
    if (id === ROOT_CHANNEL) return;
    const name = this.#names?.get(id);
    if (name === undefined) return;
    this.#names!.delete(id);
    this.#ids!.delete(name);
  }

  /**
   * Tells whether a channel is open.
   *
   * @param id The channel id.
   * @returns `true` when open.
   */
  has(id: number): boolean {
    return id === ROOT_CHANNEL || (this.#names?.has(id) ?? false);
  }

  /**
   * The namespace of a channel.
   *
   * @param id The channel id.
   * @returns The namespace name, or `undefined` when the channel is not open.
   */
  name(id: number): string | undefined {
    return id === ROOT_CHANNEL ? "/" : this.#names?.get(id);
  }

  /**
   * The channel of a namespace.
   *
   * @param namespace The namespace name.
   * @returns The channel id, or `undefined` when the namespace is not open.
   */
  id(namespace: string): number | undefined {
    return namespace === "/" ? ROOT_CHANNEL : this.#ids?.get(namespace);
  }

  /**
   * The lowest channel id not in use, for opening a new namespace.
   *
   * @returns A free id.
   * @throws {RangeError} When all 65535 are in use.
   */
  nextFreeId(): number {
    for (let id = 1; id <= MAX_CHANNEL; id++) if (!this.has(id)) return id;
    throw new RangeError("Cannot open a channel: all ids are in use");
  }

  /** How many channels are open, the root included. */
  get size(): number {
    return 1 + (this.#names?.size ?? 0);
  }
}
