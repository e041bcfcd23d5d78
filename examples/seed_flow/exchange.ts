/**
 * Plays the seed flow's transcript over a real loopback TCP connection, one write per frame, for
 * the capture that tests/fixtures/capture_exchange.sh records. Prints the listening port, waits for a line on stdin
 * (the capture is ready), then plays the frames in order: each side waits for the bytes it
 * expects before it writes its next frame.
 */

import { SEED_FLOW } from "./transcript.ts";

async function readExactly(conn: Deno.Conn, expected: Uint8Array): Promise<void> {
  const buffer = new Uint8Array(expected.length);
  for (let got = 0; got < buffer.length;) {
    const n = await conn.read(buffer.subarray(got));
    if (n === null) throw new Error("unexpected end of stream");
    got += n;
  }
  if (buffer.some((byte, i) => byte !== expected[i])) throw new Error("unexpected bytes");
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let done = 0; done < data.length;) done += await conn.write(data.subarray(done));
}

async function play(conn: Deno.TcpConn, me: "C>S" | "S>C"): Promise<void> {
  conn.setNoDelay(true);
  for (const frame of SEED_FLOW) {
    if (frame.direction === me) await writeAll(conn, frame.bytes);
    else await readExactly(conn, frame.bytes);
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(listener.addr.port);
await Deno.stdin.readable.getReader().read();

const server = listener.accept().then(async (conn) => {
  await play(conn, "S>C");
  conn.close();
});
const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
await play(client, "C>S");
await server;
client.close();
listener.close();
