/**
 * Sessions whose connection dropped, kept for a while so their client can come back to them with
 * its secret recovery token: compared in constant time, bound to its session, good once.
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";

/** The size of a recovery token, in bytes. */
export const RECOVERY_TOKEN_SIZE = 32;

/**
 * A fresh recovery token, 256 random bits, as text of one character per byte: a session holds
 * it for its whole life, and a short string costs far less memory than a typed array.
 */
export function newRecoveryToken(): string {
  return tokenText(crypto.getRandomValues(new Uint8Array(RECOVERY_TOKEN_SIZE)));
}

/**
 * A token's bytes, for the wire.
 *
 * @param text The token as text.
 * @returns Its bytes.
 */
export function tokenBytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * A token as text, one character per byte.
 *
 * @param bytes The token's bytes.
 * @returns The text.
 */
export function tokenText(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

/**
 * Whether a presented token is the one kept, in time that does not depend on where they differ.
 *
 * @param kept The token kept, as text.
 * @param presented The bytes presented.
 * @returns Whether they are the same.
 */
export function sameToken(kept: string, presented: Uint8Array): boolean {
  return kept.length === presented.length && timingSafeEqual(tokenBytes(kept), presented);
}

/**
 * Why a claim failed: `unknown` (no such session, or it was recovered already), `expired` (its
 * window passed), `refused` (the token is not the session's).
 */
export type ClaimFailure = "unknown" | "expired" | "refused";

/** What a claim gives: the session, or why not. */
export type ClaimResult<S> =
  | { readonly ok: true; readonly session: S }
  | { readonly ok: false; readonly reason: ClaimFailure };

interface Kept<S> {
  readonly session: S;
  readonly token: string;
  readonly until: number;
}

/**
 * The sessions waiting for their client to come back.
 *
 * @typeParam S What a session is.
 */
export class RecoverableSessions<S> {
  /** How long a session is kept, in milliseconds. */
  readonly window: number;
  #kept = new Map<string, Kept<S>>();
  #clock: () => number;

  /**
   * Creates an empty store.
   *
   * @param window How long a session is kept after its connection dropped, in milliseconds.
   * @param clock The time in milliseconds (`performance.now` by default; tests give their own).
   */
  constructor(window: number, clock: () => number = () => performance.now()) {
    this.window = window;
    this.#clock = clock;
  }

  /** Sessions kept now. */
  get size(): number {
    return this.#kept.size;
  }

  /**
   * Keeps a session whose connection dropped, for the window.
   *
   * @param id The session id.
   * @param session The session.
   * @param token Its recovery token (the one the client holds), as text.
   */
  keep(id: string, session: S, token: string): void {
    this.#kept.set(id, { session, token, until: this.#clock() + this.window });
  }

  /**
   * A client presents a session id and token. On success the session leaves the store, so a
   * token works once; the caller issues a fresh one with the recovery. A wrong token leaves the
   * session where it is, for its own client.
   *
   * @param id The session id the client presents.
   * @param token The token it presents.
   * @returns The session, or why not.
   */
  claim(id: string, token: Uint8Array): ClaimResult<S> {
    const kept = this.#kept.get(id);
    if (kept === undefined) return { ok: false, reason: "unknown" };
    // An expired session stays for `expire()`, which hands it back for its ending.
    if (this.#clock() >= kept.until) return { ok: false, reason: "expired" };
    if (!sameToken(kept.token, token)) return { ok: false, reason: "refused" };
    this.#kept.delete(id);
    return { ok: true, session: kept.session };
  }

  /**
   * Removes a session (it ended otherwise).
   *
   * @param id The session id.
   */
  forget(id: string): void {
    this.#kept.delete(id);
  }

  /**
   * Removes every session, for a server that closes.
   *
   * @returns Them.
   */
  drain(): S[] {
    const all = [...this.#kept.values()].map((kept) => kept.session);
    this.#kept.clear();
    return all;
  }

  /**
   * Removes the sessions whose window has passed.
   *
   * @returns Them, for their "session gone" events.
   */
  expire(): S[] {
    const now = this.#clock();
    const gone: S[] = [];
    for (const [id, kept] of this.#kept) {
      if (now >= kept.until) {
        this.#kept.delete(id);
        gone.push(kept.session);
      }
    }
    return gone;
  }
}
