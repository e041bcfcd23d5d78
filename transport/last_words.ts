/**
 * Turning a connection away politely: one last frame that says why, then a close that lets the
 * peer read it.
 *
 * @module
 */

/**
 * Writes a last frame to a connection that will not be served, half-closes it, waits for the
 * peer to close its side (reading and dropping what it still sends), then closes it. Closing at
 * once could reset the connection and lose the frame when the peer's first bytes are unread.
 * Whatever happens, the connection is closed within `timeout`.
 *
 * @param conn The connection; this function owns it from now on.
 * @param frame The frame (an `Error`).
 * @param timeout Milliseconds before the connection is closed whatever the peer does.
 * @returns A promise that resolves once the connection is closed; it never rejects.
 */
export async function closeWithLastWords(
  conn: Deno.Conn,
  frame: Uint8Array,
  timeout: number,
): Promise<void> {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch {
      // Gone already.
    }
  };
  const timer = setTimeout(close, timeout);
  try {
    let offset = 0;
    while (offset < frame.length) offset += await conn.write(frame.subarray(offset));
    await conn.closeWrite();
    const sink = new Uint8Array(256);
    while (await conn.read(sink) !== null) {
      // Dropped: the peer is not served.
    }
  } catch {
    // Reset, or closed by the timer.
  } finally {
    clearTimeout(timer);
    close();
  }
}
