/**
 * The key of a session's datagrams: it seals each datagram with an authentication tag and checks
 * the tag of each one received.
 *
 * The tag is HMAC-SHA-256 truncated to 128 bits (RFC 2104 allows truncation to half the hash;
 * RFC 4868 uses the same for IPsec). HMAC authenticates without encrypting, so the packet
 * inspector can still show payloads; SHA-256 is in `node:crypto` and in WebCrypto, so a browser
 * or native peer can compute it too.
 *
 * @module
 */

import { createHmac, timingSafeEqual } from "node:crypto";
import { DATAGRAM_TAG_SIZE } from "../protocol/mod.ts";

/** The size of a session's datagram key, in bytes. */
export const DATAGRAM_KEY_SIZE = 32;

/** Seals and checks the datagrams of one session. */
export class DatagramKey {
  #key: Uint8Array;

  /**
   * Wraps a key.
   *
   * @param key The session's key (32 random bytes from the server).
   * @throws {RangeError} When the key is shorter than 16 bytes.
   */
  constructor(key: Uint8Array) {
    if (key.length < 16) throw new RangeError(`A datagram key has at least 16 bytes`);
    this.#key = key.slice();
  }

  /** A fresh random key. */
  static random(): Uint8Array {
    return crypto.getRandomValues(new Uint8Array(DATAGRAM_KEY_SIZE));
  }

  /**
   * Writes the tag over everything before it, in place.
   *
   * @param datagram A datagram whose last `DATAGRAM_TAG_SIZE` bytes are room for the tag.
   * @returns The same datagram.
   */
  seal(datagram: Uint8Array): Uint8Array {
    const end = datagram.length - DATAGRAM_TAG_SIZE;
    datagram.set(this.#tag(datagram.subarray(0, end)), end);
    return datagram;
  }

  /**
   * Whether a datagram's tag is the one this key makes, compared in constant time.
   *
   * @param datagram The datagram.
   * @returns Whether it is authentic.
   */
  verify(datagram: Uint8Array): boolean {
    const end = datagram.length - DATAGRAM_TAG_SIZE;
    if (end <= 0) return false;
    return timingSafeEqual(this.#tag(datagram.subarray(0, end)), datagram.subarray(end));
  }

  #tag(data: Uint8Array): Uint8Array {
    const digest = createHmac("sha256", this.#key).update(data).digest();
    return new Uint8Array(digest.buffer, digest.byteOffset, DATAGRAM_TAG_SIZE);
  }
}
