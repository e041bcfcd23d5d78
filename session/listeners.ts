/**
 * A small typed listener registry: the event emitter under the server's and the client's
 * lifecycle events and application events.
 *
 * @module
 */

// deno-lint-ignore no-explicit-any
type Listener = (...args: any[]) => unknown;

/**
 * Listeners by event name. A listener that throws, or returns a promise that rejects, is
 * reported to the `onError` callback, and the other listeners still run.
 */
export class Listeners {
  /** Made on the first listener: most sockets never listen to most kinds of event. */
  #map: Map<string, Listener[]> | undefined;
  #onError: (error: unknown, event: string) => void;

  /**
   * Creates an empty registry.
   *
   * @param onError Receives what a listener throws or rejects with.
   */
  constructor(onError: (error: unknown, event: string) => void) {
    this.#onError = onError;
  }

  /**
   * Adds a listener.
   *
   * @param event The event.
   * @param listener The listener.
   */
  on(event: string, listener: Listener): void {
    if (typeof listener !== "function") throw new TypeError("A listener must be a function");
    this.#map ??= new Map();
    const list = this.#map.get(event);
    if (list === undefined) this.#map.set(event, [listener]);
    else list.push(listener);
  }

  /**
   * Adds a listener that runs once.
   *
   * @param event The event.
   * @param listener The listener.
   */
  once(event: string, listener: Listener): void {
    const wrapper = (...args: unknown[]) => {
      this.off(event, wrapper);
      return listener(...args);
    };
    this.on(event, wrapper);
  }

  /**
   * Removes a listener, or every listener of the event.
   *
   * @param event The event.
   * @param listener The listener; all of the event's when absent.
   */
  off(event: string, listener?: Listener): void {
    if (listener === undefined) {
      this.#map?.delete(event);
      return;
    }
    const list = this.#map?.get(event);
    if (list === undefined) return;
    const index = list.indexOf(listener);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) this.#map!.delete(event);
  }

  /**
   * Tells whether an event has listeners.
   *
   * @param event The event.
   * @returns `true` when it has at least one.
   */
  has(event: string): boolean {
    return this.#map?.has(event) ?? false;
  }

  /**
   * Calls every listener of an event, in the order they were added.
   *
   * @param event The event.
   * @param args The listeners' arguments.
   * @returns What the first listener returned (a promise is returned as it is, its rejection
   *   already reported), or `undefined` when there was none.
   */
  emit(event: string, ...args: unknown[]): unknown {
    const list = this.#map?.get(event);
    if (list === undefined) return undefined;
    let first: unknown;
    const snapshot = list.length === 1 ? list : [...list];
    for (let i = 0; i < snapshot.length; i++) {
      let result: unknown;
      try {
        result = snapshot[i]!(...args);
      } catch (error) {
        this.#onError(error, event);
        if (i === 0) first = Promise.reject(error);
        continue;
      }
      if (result instanceof Promise) {
        result.catch((error) => this.#onError(error, event));
      }
      if (i === 0) first = result;
    }
    if (first instanceof Promise) first.catch(() => {});
    return first;
  }
}
