/**
 * Backpressure over real loopback: a peer that never reads cannot grow the server's memory, its
 * volatile emits are dropped at the send-queue cap, its other emits disconnect it, and other
 * clients are not held up meanwhile.
 */

import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import type { ClientSocket } from "../client.ts";
import { Handshake } from "../protocol/mod.ts";
import type { GameSocketServer, GameSocketServerOptions, ServerSocket } from "../server.ts";
import { connectClient, nextEvent, RawPeer, rootConnect, startServer } from "./harness.ts";
import { EVENT_DEADLINE, eventOf, within } from "./within.ts";

const MB = 1024 * 1024;

// The collector, exposed at run time: memory is compared after a full collection each time, so
// the figures show what is retained (a queue that grew without bound), not garbage not yet freed.
v8.setFlagsFromString("--expose-gc");
const collectGarbage = vm.runInNewContext("gc") as () => void;

/** No heartbeat falls inside a test; a stuck peer does not hold up the server's close for long. */
const QUIET: GameSocketServerOptions = {
  heartbeatInterval: 60_000,
  heartbeatTimeout: 120_000,
  closeTimeout: 200,
};

/** The payloads of one event a socket received, with a bounded wait for a count of them. */
class Received {
  /** The payloads, unless only counted. */
  readonly values: unknown[] = [];
  /** How many arrived. */
  count = 0;
  #event: string;
  #waiters: { count: number; resolve: () => void }[] = [];

  /**
   * @param socket Either kind of socket: `on` of an application event takes the same handler.
   * @param event The event.
   * @param keep Whether to keep the payloads, or only count them (so memory figures hold none).
   */
  constructor(socket: ClientSocket | ServerSocket, event: string, keep = true) {
    this.#event = event;
    (socket as ClientSocket).on(event, (data) => {
      if (keep) this.values.push(data);
      this.count++;
      this.#waiters = this.#waiters.filter((w) => {
        if (this.count < w.count) return true;
        w.resolve();
        return false;
      });
    });
  }

  /** Resolves once `count` events arrived; rejects when they take longer than `ms`. */
  until(count: number, ms = EVENT_DEADLINE): Promise<void> {
    if (this.count >= count) return Promise.resolve();
    const arrived = new Promise<void>((resolve) => this.#waiters.push({ count, resolve }));
    return within(arrived, `${count} "${this.#event}" events`, ms);
  }
}

/** A raw peer that completed the handshake of `/` and never reads again, and its server socket. */
interface StuckPeer extends AsyncDisposable {
  readonly peer: RawPeer;
  readonly socket: ServerSocket;
}

async function connectStuckPeer(server: GameSocketServer, port: number): Promise<StuckPeer> {
  const connected = eventOf<[ServerSocket]>(server.root, "connection");
  const peer = await RawPeer.connect(port);
  try {
    await peer.write(rootConnect());
    const handshake = await peer.next();
    assert.equal(handshake?.type === "control" && handshake.schema, Handshake);
    const [socket] = await connected;
    return { peer, socket, [Symbol.asyncDispose]: () => peer[Symbol.asyncDispose]() };
  } catch (error) {
    peer.close();
    throw error;
  }
}

/** The server socket of a client about to connect to `/`, and the client. */
async function connectWatched(server: GameSocketServer, port: number) {
  const connected = eventOf<[ServerSocket]>(server.root, "connection");
  const client = await connectClient(port);
  const [socket] = await connected;
  return { client, socket };
}

/** Memory in use after a full collection. */
function memory(): { heapUsed: number; external: number; rss: number } {
  collectGarbage();
  const { heapUsed, external, rss } = Deno.memoryUsage();
  return { heapUsed, external, rss };
}

function mb(bytes: number): string {
  return `${(bytes / MB).toFixed(2)} MB`;
}

Deno.test("A raw TCP client that never reads is sent 50 MB of volatile emits and the server's memory stays bounded while other clients keep receiving", async () => {
  await using test = await startServer(QUIET);
  const errors: unknown[] = [];
  test.server.on("error", (error) => errors.push(error));
  const limit = test.server.options.sendQueueLimit;
  const watched = await connectWatched(test.server, test.port);
  await using good = watched.client;
  const ticks = new Received(good.root!, "tick");
  // Declared after the server, so it closes first and the server need not wait on its queue.
  await using stuck = await connectStuckPeer(test.server, test.port);
  watched.socket.join("room");
  stuck.socket.join("room");
  assert.equal(test.server.root.to("room").socketIds().length, 2);

  const transport = stuck.socket.connection.transport;
  const payload = new Uint8Array(50_000).fill(7);
  const batches = 20;
  const perBatch = 50;
  const statuses: string[] = [];
  let peakQueued = 0;
  // Emits whose status disagrees with the queue they met: a drop below the cap, or a send above.
  const misjudged: { index: number; queued: number; status: string }[] = [];
  const start = memory();
  const began = performance.now();
  // The first emit finds the queue all but empty; it also tells the frame's size.
  const bytesBefore = stuck.socket.stats.bytesOut;
  statuses.push(stuck.socket.emit("state", payload, { volatile: true }));
  assert.deepEqual(statuses, ["sent"]);
  const frameBytes = stuck.socket.stats.bytesOut - bytesBefore;
  for (let batch = 0; batch < batches; batch++) {
    for (let i = batch === 0 ? 1 : 0; i < perBatch; i++) {
      const queued = transport.queuedBytes;
      const status = stuck.socket.emit("state", payload, { volatile: true });
      const full = queued > 0 && queued + frameBytes > limit;
      if (status !== (full ? "dropped" : "sent")) {
        misjudged.push({ index: statuses.length, queued, status });
      }
      statuses.push(status);
      peakQueued = Math.max(peakQueued, transport.queuedBytes);
    }
    // The other member of the room gets a small, reliable message per batch, and gets it now.
    assert.equal(test.server.root.to("room").except(stuck.socket.id).emit("tick", batch).sent, 1);
    await ticks.until(batch + 1);
  }
  const elapsed = performance.now() - began;
  const uncollected = Deno.memoryUsage();
  const end = memory();

  const sent = statuses.filter((status) => status === "sent").length;
  const dropped = statuses.filter((status) => status === "dropped").length;
  const { maxQueuedBytes, bytesOut } = transport.stats;
  console.log(
    `50 MB to a peer that never reads, in ${Math.round(elapsed)} ms: ${sent} sent, ` +
      `${dropped} dropped; queue cap ${mb(limit)}, peak queued ${mb(peakQueued)}, ` +
      `maxQueuedBytes ${mb(maxQueuedBytes)}, written to the kernel ${mb(bytesOut)}`,
  );
  console.log(
    `memory after a collection, before/after: heapUsed ${mb(start.heapUsed)} -> ` +
      `${mb(end.heapUsed)}, external ${mb(start.external)} -> ${mb(end.external)}, rss ` +
      `${mb(start.rss)} -> ${mb(end.rss)} (uncollected at the end: heapUsed ` +
      `${mb(uncollected.heapUsed)}, external ${mb(uncollected.external)})`,
  );

  assert.equal(statuses.length * payload.length, 50_000_000);
  assert.equal(sent + dropped, statuses.length);
  assert.ok(frameBytes > payload.length && frameBytes < payload.length + 100, `${frameBytes}`);
  // Drops start once the cap is reached (exactly then), and by the end nothing gets through.
  assert.ok(dropped > 0);
  assert.ok(statuses.slice(-perBatch).every((status) => status === "dropped"));
  assert.deepEqual(misjudged, []);
  assert.equal(stuck.socket.stats.dropped, dropped);
  assert.equal(transport.stats.dropped, dropped);
  assert.ok(peakQueued <= limit + frameBytes, `peak ${peakQueued}`);
  assert.ok(maxQueuedBytes <= limit + frameBytes);
  assert.ok(transport.queuedBytes <= limit + frameBytes);
  // Queued frames live outside the JS heap, so the bound is on heap and external memory both.
  assert.ok(end.heapUsed - start.heapUsed < 30 * MB, "heapUsed grew by 30 MB or more");
  assert.ok(
    end.heapUsed + end.external - start.heapUsed - start.external < 30 * MB,
    "heapUsed + external grew by 30 MB or more",
  );
  // Volatile drops never disconnect; the reliable messages all arrived, in order.
  assert.equal(stuck.socket.connected, true);
  assert.deepEqual(ticks.values, Array.from({ length: batches }, (_, i) => i));
  assert.equal(good.state, "open");
  assert.deepEqual(errors, []);
});

Deno.test("An emit that crosses the send-queue cap of a client that never reads disconnects it with send queue overflow, and only it", async () => {
  const limit = 256 * 1024;
  await using test = await startServer({ ...QUIET, sendQueueLimit: limit });
  const watched = await connectWatched(test.server, test.port);
  await using good = watched.client;
  const ticks = new Received(good.root!, "tick");
  await using stuck = await connectStuckPeer(test.server, test.port);
  const disconnected = nextEvent<[string]>(stuck.socket, "disconnect");
  const transport = stuck.socket.connection.transport;

  // Batches well under the cap, so only a peer that stopped reading can fill the queue.
  const payload = new Uint8Array(16_000);
  const statuses: string[] = [];
  let overflowAt = -1;
  let queuedAtOverflow = 0;
  for (let batch = 0; batch < 1000 && overflowAt < 0; batch++) {
    for (let i = 0; i < 8; i++) {
      const queued = transport.queuedBytes;
      const status = stuck.socket.emit("state", payload);
      statuses.push(status);
      if (status === "overflow") {
        overflowAt = statuses.length - 1;
        queuedAtOverflow = queued;
        break;
      }
    }
    watched.socket.emit("tick", batch);
    await ticks.until(batch + 1);
  }

  console.log(
    `overflow at emit ${overflowAt} (${mb(overflowAt * payload.length)} emitted), cap ` +
      `${mb(limit)}, maxQueuedBytes ${mb(transport.stats.maxQueuedBytes)}, written to the kernel ` +
      `${mb(transport.stats.bytesOut)}`,
  );
  assert.ok(overflowAt > 0, "no emit overflowed");
  assert.ok(statuses.slice(0, overflowAt).every((status) => status === "sent"));
  // The emit that overflowed is the one that would have taken the queue past the cap.
  assert.ok(queuedAtOverflow <= limit && queuedAtOverflow + payload.length > limit);
  assert.ok(transport.stats.maxQueuedBytes <= limit);
  assert.deepEqual(await within(disconnected, "the disconnect"), ["send queue overflow"]);
  assert.equal(stuck.socket.connected, false);
  assert.equal(stuck.socket.emit("state", payload), "closed");
  // The peer's stream ends after what reached its kernel buffers.
  const drained = await stuck.peer.drain();
  assert.ok(drained > 0 && drained <= transport.stats.bytesOut);

  const after = ticks.count;
  assert.equal(watched.socket.emit("tick", "after"), "sent");
  await ticks.until(after + 1);
  assert.equal(ticks.values.at(-1), "after");
  assert.equal(good.state, "open");
  assert.equal(watched.socket.connected, true);
  assert.equal(watched.socket.stats.dropped, 0);
  assert.equal(test.server.stats.connections, 1);
});

Deno.test("A client that never reads holds no more memory than its queue's bytes while its small frames are encoded among others' large ones", async () => {
  await using test = await startServer({ ...QUIET, sendQueueLimit: 8 * MB });
  const watched = await connectWatched(test.server, test.port);
  await using good = watched.client;
  const bigs = new Received(good.root!, "big", false);
  await using stuck = await connectStuckPeer(test.server, test.port);
  const transport = stuck.socket.connection.transport;

  // Fill the kernel's buffers until frames stay queued behind a write that cannot finish.
  const filler = new Uint8Array(60_000);
  for (let i = 0; i < 500 && transport.queuedBytes < 256 * 1024; i++) {
    assert.equal(stuck.socket.emit("filler", filler), "sent");
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.ok(transport.queuedBytes >= 256 * 1024, "the kernel never stopped taking bytes");

  // Each small frame to the stuck client lands in a shared encoding buffer among the large
  // frames of a client that reads; held as a view, it would keep that whole buffer alive.
  const queuedBefore = transport.queuedBytes;
  const start = memory();
  const big = new Uint8Array(60_000);
  const batches = 50;
  const perBatch = 10;
  for (let batch = 0; batch < batches; batch++) {
    for (let i = 0; i < perBatch; i++) {
      assert.equal(stuck.socket.emit("small", batch * perBatch + i), "sent");
      assert.equal(watched.socket.emit("big", big), "sent");
    }
    await bigs.until((batch + 1) * perBatch);
  }
  const end = memory();
  const queuedSmall = transport.queuedBytes - queuedBefore;
  console.log(
    `${batches * perBatch} small frames (${queuedSmall} bytes) queued among ` +
      `${mb(batches * perBatch * big.length)} to another client: external memory ` +
      `${mb(start.external)} -> ${mb(end.external)}`,
  );
  assert.ok(queuedSmall > 0 && queuedSmall < 64 * 1024);
  assert.ok(end.external - start.external < 8 * MB, "the queued small frames pin 8 MB or more");
  assert.equal(good.state, "open");
});

Deno.test("A volatile event dropped before its name was declared to a client is declared with its next emit", async () => {
  await using test = await startServer({ ...QUIET, sendQueueLimit: 32 * 1024 });
  const watched = await connectWatched(test.server, test.port);
  await using client = watched.client;
  const fills = new Received(client.root!, "fill");
  const states = new Received(client.root!, "state");
  const socket = watched.socket;
  // The acknowledgement comes back after the server's write finished: its queue is empty.
  await socket.emitWithAck("fill", 0);

  // One tick: a frame above the cap fills the queue, so the first "state" and its name drop.
  assert.equal(socket.emit("fill", new Uint8Array(40_000)), "sent");
  assert.equal(socket.emit("state", 1, { volatile: true }), "dropped");
  await fills.until(2);
  assert.equal(socket.emit("state", 2, { volatile: true }), "sent");
  await states.until(1);

  assert.deepEqual(states.values, [2]);
  assert.equal(client.state, "open");
});

Deno.test("A volatile event a client dropped before declaring its name is declared with its next emit", async () => {
  await using test = await startServer(QUIET);
  const connected = eventOf<[ServerSocket]>(test.server.root, "connection");
  await using client = await connectClient(test.port, { sendQueueLimit: 32 * 1024 });
  const [socket] = await connected;
  const fills = new Received(socket, "fill");
  const states = new Received(socket, "state");
  const root = client.root!;
  // The acknowledgement comes back after the client's write finished: its queue is empty.
  await root.emitWithAck("fill", 0);

  // One tick: a frame above the cap fills the queue, so the first "state" and its name drop.
  assert.equal(root.emit("fill", new Uint8Array(40_000)), "sent");
  assert.equal(root.emit("state", 1, { volatile: true }), "dropped");
  await fills.until(2);
  assert.equal(root.emit("state", 2, { volatile: true }), "sent");
  await states.until(1);

  assert.deepEqual(states.values, [2]);
  assert.equal(socket.connected, true);
});
