/**
 * Clients that connect from a chosen local address (`localAddress`, over `node:net`): the server
 * sees that address, events and acknowledgements flow both ways, a refused connect fails as over
 * `Deno.connect`, and nothing is left open. Every loopback address 127.0.0.x reaches 127.0.0.1
 * on Linux; the tests need `--allow-net=127.0.0.0/8`.
 */

import assert from "node:assert/strict";
import { ConnectError, GameSocketClient } from "../client.ts";
import { connectNodeTcp, NodeTcpConn } from "../transport/node_tcp_conn.ts";
import { connectClient, startServer } from "./harness.ts";
import { eventOf, home, rejection, serverSide, within } from "./within.ts";

/** A port nothing listens on: one the system gave, closed again. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

Deno.test("A client with localAddress connects from it, and events and acks flow both ways", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  const addresses: string[] = [];
  nsp.on("connection", (socket) => {
    addresses.push(socket.handshake.address.hostname);
    socket.on("add", (data) => (data as number) + 1);
    socket.on("shout", (data) => socket.emit("heard", data));
  });
  await using client = await connectClient(test.port, { localAddress: "127.0.0.2" });
  assert.equal(client.options.localAddress, "127.0.0.2");
  const socket = await home(client);
  assert.deepEqual(addresses, ["127.0.0.2"]);

  assert.equal(await within(socket.emitWithAck("add", 41)), 42);
  const heard = eventOf<[unknown, unknown]>(socket, "heard");
  socket.emit("shout", "hello");
  assert.equal((await heard)[0], "hello");

  socket.on("double", (data) => (data as number) * 2);
  assert.equal(await within(serverSide(nsp, socket).emitWithAck("double", 21)), 42);
  // 300 KB each way (under the default rate limit), in frames larger than one read.
  const big = "x".repeat(30_000);
  let echoes = 0;
  const allEchoed = new Promise<void>((resolve) =>
    socket.on("heard", (data) => {
      assert.equal(data, big);
      if (++echoes === 10) resolve();
    })
  );
  for (let i = 0; i < 10; i++) socket.emit("shout", big);
  await within(allEchoed, "10 echoes");

  const closed = eventOf(client, "close");
  await client.close();
  await closed;
});

Deno.test("A client with localAddress whose connect is refused fails with ConnectError transport", async () => {
  const client = new GameSocketClient({ localAddress: "127.0.0.2", reconnection: false });
  const error = await rejection(client.connect("127.0.0.1", closedPort()), ConnectError);
  assert.equal(error.code, "transport");
  assert.equal(client.state, "closed");
});

Deno.test("localAddress must be an IP address, and is refused with tls", () => {
  assert.throws(() => new GameSocketClient({ localAddress: "localhost" }), TypeError);
  assert.throws(
    () => new GameSocketClient({ localAddress: "127.0.0.2", tls: {} }),
    (error: unknown) =>
      error instanceof TypeError &&
      error.message.includes("localAddress works over plain TCP only"),
  );
});

Deno.test("connectNodeTcp rejects with the signal's reason when aborted, and leaves nothing open", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const controller = new AbortController();
  const connecting = connectNodeTcp({
    hostname: "127.0.0.1",
    port: listener.addr.port,
    localAddress: "127.0.0.2",
    signal: controller.signal,
  });
  controller.abort(new Error("stop"));
  await assert.rejects(connecting, { message: "stop" });
  const aborted = AbortSignal.abort(new Error("before"));
  await assert.rejects(
    connectNodeTcp({ hostname: "127.0.0.1", port: 1, localAddress: "127.0.0.2", signal: aborted }),
    { message: "before" },
  );
});

Deno.test("NodeTcpConn reads keep what does not fit, and end with null once the peer closes", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const conn = await connectNodeTcp({
    hostname: "127.0.0.1",
    port: listener.addr.port,
    localAddress: "127.0.0.3",
  });
  assert.ok(conn instanceof NodeTcpConn);
  assert.equal(conn.localAddr.hostname, "127.0.0.3");
  assert.deepEqual(
    { hostname: conn.remoteAddr.hostname, port: conn.remoteAddr.port },
    { hostname: "127.0.0.1", port: listener.addr.port },
  );
  const peer = await accepted;
  assert.equal((peer.remoteAddr as Deno.NetAddr).hostname, "127.0.0.3");
  await peer.write(new Uint8Array([1, 2, 3, 4, 5, 6, 7]));
  const buffer = new Uint8Array(3);
  const read: number[] = [];
  while (read.length < 7) {
    const n = await within(conn.read(buffer), "a read");
    assert.ok(n !== null && n <= 3);
    read.push(...buffer.subarray(0, n));
  }
  assert.deepEqual(read, [1, 2, 3, 4, 5, 6, 7]);
  peer.close();
  assert.equal(await within(conn.read(buffer), "the end"), null);
  conn.close();
});

Deno.test("NodeTcpConn write resolves once the peer takes the bytes, not before", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const conn = await connectNodeTcp({
    hostname: "127.0.0.1",
    port: listener.addr.port,
    localAddress: "127.0.0.2",
  });
  using peer = await accepted;
  // Far more than the kernel's buffers on both sides hold while the peer does not read.
  const size = 64 * 1024 * 1024;
  let written = false;
  const writing = conn.write(new Uint8Array(size)).then((n) => {
    written = true;
    return n;
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(written, false);
  const buffer = new Uint8Array(1024 * 1024);
  let total = 0;
  while (total < size) total += (await peer.read(buffer)) ?? assert.fail("ended early");
  assert.equal(await within(writing, "the write"), size);
  await conn.closeWrite();
  assert.equal(await peer.read(buffer), null);
  conn.close();
  assert.equal(await within(conn.read(buffer), "the end"), null);
});
