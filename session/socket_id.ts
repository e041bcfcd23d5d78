/**
 * Socket ids.
 *
 * @module
 */

/**
 * Makes a socket id: 128 random bits as 22 base64url characters.
 *
 * @returns A new id.
 */
export function randomSocketId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").slice(0, 22);
}
