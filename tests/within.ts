/**
 * A bound on awaiting: the feature tests await events that a bug could keep from ever coming, and
 * a test should then fail with a message rather than hang.
 */

import { nextEvent } from "./harness.ts";

/** How long a test waits for something that should come at once, in milliseconds. */
export const EVENT_DEADLINE = 3000;

/**
 * Settles as `promise` does, or rejects when `ms` milliseconds pass first. The timer is cleared
 * either way, so the op sanitizer sees nothing left behind.
 *
 * @param promise What to await.
 * @param what What is awaited, for the message.
 * @param ms The bound.
 * @returns What `promise` resolves with.
 */
export async function within<T>(
  promise: Promise<T>,
  what = "an event",
  ms = EVENT_DEADLINE,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Waited ${ms} ms for ${what} in vain`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The arguments of the next `event` of an emitter, within {@linkcode EVENT_DEADLINE}.
 *
 * @param target The emitter.
 * @param event The event.
 * @returns Its arguments.
 */
export function eventOf<Args extends unknown[] = unknown[]>(
  // deno-lint-ignore no-explicit-any
  target: { once(event: any, listener: (...args: any[]) => void): unknown },
  event: string,
): Promise<Args> {
  return within(nextEvent<Args>(target, event), `"${event}"`);
}
