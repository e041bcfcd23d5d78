/**
 * The seed's example flow end to end: PROTOCOL.md's transcript replayed byte for byte against
 * the demo server of `deno task serve`, and the same flow through the real client.
 */

import assert from "node:assert/strict";
import { createDemoServer } from "../cli/demo_server.ts";
import {
  HEARTBEAT,
  HOME_SOCKET_ID,
  MAX_FRAME_SIZE,
  ROOT_SOCKET_ID,
  SEED_FLOW,
  toHex,
} from "../examples/seed_flow/transcript.ts";
import { GameSocketClient } from "../client.ts";
import { BENCH_NAMESPACE, BENCH_SCHEMAS, BenchUpdate } from "../load/bench_update.ts";

// Values the quantized fields (radians, single) carry exactly.
const benchSample = {
  id: 7,
  x: 120,
  y: -4,
  angle: 0,
  health: 1,
  alive: true,
  firing: false,
} as const;

async function startDemo(ids: string[] = [], log: (line: string) => void = () => {}) {
  const server = createDemoServer({
    hostname: "127.0.0.1",
    port: 0,
    ...HEARTBEAT,
    maxFrameSize: MAX_FRAME_SIZE,
    log,
    ...(ids.length === 0 ? {} : { generateId: () => ids.shift()! }),
  });
  const { port } = await server.listen();
  return { server, port, [Symbol.asyncDispose]: () => server.close() };
}

async function readExactly(conn: Deno.Conn, count: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(count);
  for (let got = 0; got < count;) {
    const n = await conn.read(bytes.subarray(got));
    if (n === null) throw new Error(`The stream ended after ${got} of ${count} bytes`);
    got += n;
  }
  return bytes;
}

Deno.test("The demo server answers PROTOCOL.md's seed-flow transcript byte for byte", async () => {
  await using demo = await startDemo([ROOT_SOCKET_ID, HOME_SOCKET_ID]);
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: demo.port });
  conn.setNoDelay(true);
  for (const frame of SEED_FLOW) {
    if (frame.direction === "C>S") {
      await conn.write(frame.bytes);
    } else {
      const got = await readExactly(conn, frame.bytes.length);
      assert.equal(toHex(got), toHex(frame.bytes), frame.note);
    }
  }
});

Deno.test("The seed flow through the real client: handshakes, the lobby join and the hello broadcast", async () => {
  const lines: string[] = [];
  await using demo = await startDemo([], (line) => lines.push(line));
  await using client = new GameSocketClient();
  const root = await client.connect("127.0.0.1", demo.port);
  const home = await client.of("/home").ready;
  assert.notEqual(root.id, home.id);
  const hello = new Promise<[unknown, { room?: string; sender?: string }]>((resolve) =>
    home.on("hello", (message, info) => resolve([message, info]))
  );
  await home.join("lobby");
  assert.deepEqual([...home.rooms], ["lobby"]);
  home.to("lobby").emit("hello", "hello all");
  const [message, info] = await hello;
  assert.equal(message, "hello all");
  assert.equal(info.room, "lobby");
  assert.equal(info.sender, home.id);
  assert.ok(lines.includes(`/home: connect ${home.id}`), lines.join("\n"));
  assert.ok(lines.includes("/home: room created lobby"), lines.join("\n"));
  assert.ok(lines.includes(`/home: ${home.id} joined lobby`), lines.join("\n"));
});

Deno.test("The demo server does not relay a hello to a room its sender is not in", async () => {
  await using demo = await startDemo();
  await using alice = new GameSocketClient();
  await using bob = new GameSocketClient();
  await alice.connect("127.0.0.1", demo.port);
  await bob.connect("127.0.0.1", demo.port);
  const aliceHome = await alice.of("/home").ready;
  const bobHome = await bob.of("/home").ready;
  await aliceHome.join("lobby");
  const heard: unknown[] = [];
  aliceHome.on("hello", (message) => void heard.push(message));
  bobHome.to("lobby").emit("hello", "from outside");
  // Bob's later frames are handled after his first hello: the echo of the second orders them.
  await bobHome.join("elsewhere");
  bobHome.to("elsewhere").emit("hello", "inside");
  const echoed = new Promise((resolve) => bobHome.on("hello", resolve));
  assert.equal(await echoed, "inside");
  // Anything relayed to Alice would reach her before the answer to a later request of hers.
  await aliceHome.join("sync");
  assert.deepEqual(heard, []);
});

Deno.test("The demo server's /bench namespace broadcasts each update to the sender's whole room", async () => {
  await using demo = await startDemo();
  const clients: GameSocketClient[] = [];
  const sockets = [];
  for (const room of ["r0", "r0", "r1"]) {
    const client = new GameSocketClient();
    clients.push(client);
    await client.connect("127.0.0.1", demo.port);
    const socket = await client.of(BENCH_NAMESPACE, { schemas: BENCH_SCHEMAS }).ready;
    await socket.join(room);
    sockets.push(socket);
  }
  try {
    const heard = sockets.map((socket) =>
      new Promise((resolve) => socket.onMessage(BenchUpdate, resolve))
    );
    const update = { ...benchSample, t: 1 };
    sockets[0]!.send(BenchUpdate, update);
    // Both members of r0 (the sender included) get it; r1 gets it only after its own send.
    assert.deepEqual(await heard[0], update);
    assert.deepEqual(await heard[1], update);
    sockets[2]!.send(BenchUpdate, { ...update, t: 2 });
    assert.deepEqual(await heard[2], { ...update, t: 2 });
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
});
