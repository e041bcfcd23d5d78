/**
 * `deno task dump` as a process: it says where it listens, prints both directions of a real
 * session, writes a capture that `deno task decode` reads back to the same packets, prints JSON
 * lines and filtered output on request, refuses bad addresses, and stops cleanly on SIGINT.
 */

import assert from "node:assert/strict";
import { createDemoServer } from "../cli/demo_server.ts";
import { GameSocketClient } from "../client.ts";
import { encodeFrame, Ping, Pong } from "../protocol/mod.ts";
import { toHex } from "../examples/seed_flow/transcript.ts";
import { DumpProcess, dumpTaskArgs, run } from "./fixtures/dump_process.ts";
import { RawPeer } from "./harness.ts";
import { eventOf, within } from "./within.ts";

const DECODE = new URL("../cli/decode.ts", import.meta.url).pathname;

async function startDemo() {
  const server = createDemoServer({ hostname: "127.0.0.1", port: 0, log: () => {} });
  const { port } = await server.listen();
  return { port, [Symbol.asyncDispose]: () => server.close() };
}

/** The seed flow through the real client: /home, the lobby, a hello and its broadcast. */
async function seedFlow(port: number): Promise<void> {
  await using client = new GameSocketClient();
  await within(client.connect("127.0.0.1", port), "the connection");
  const home = await within(client.of("/home").ready, "the handshake of /home");
  const hello = eventOf(home, "hello");
  await within(home.join("lobby"), "the lobby join");
  home.to("lobby").emit("hello", "hello all");
  await hello;
}

const PACKET_LINE = /^conn (\d+) (C>S|S>C) \d+\.\d{3}s (#\d+ .*)$/;
const closedLine = (conn: number) => (line: string) =>
  new RegExp(`^conn ${conn} +\\d+\\.\\d{3}s closed: `).test(line);

Deno.test("deno task dump prints both directions of a session and --save writes a capture decode reads back to the same packets", async () => {
  await using demo = await startDemo();
  const capture = await Deno.makeTempFile({ prefix: "dump_capture_", suffix: ".txt" });
  try {
    const { dump, port } = await DumpProcess.start([
      "--target",
      `127.0.0.1:${demo.port}`,
      "--save",
      capture,
    ]);
    await using _dump = dump;
    assert.equal(dump.lines[0], `relaying 127.0.0.1:${port} -> 127.0.0.1:${demo.port}`);
    await seedFlow(port);
    await dump.waitForLine(closedLine(1), "the end of the connection");
    const { code, lines, stderr } = await dump.stop();
    assert.equal(code, 0, stderr);
    assert.equal(lines.at(-1), "stopped");
    assert.match(lines[1]!, /^conn 1 +\d+\.\d{3}s open: client 127\.0\.0\.1:\d+, server /);

    const relayed = lines.flatMap((line) => {
      const match = PACKET_LINE.exec(line);
      return match === null ? [] : [`${match[1]} ${match[2]} ${match[3]}`];
    });
    for (const direction of ["C>S", "S>C"]) {
      assert.ok(
        relayed.some((line) =>
          line.startsWith(`1 ${direction} #`) &&
          line.includes(' RoomEvent /home {room: "lobby", event: 0 "hello"')
        ),
        `no hello ${direction} in\n${lines.join("\n")}`,
      );
    }

    const decoded = await run(["run", "--allow-read", DECODE, "--file", capture]);
    assert.equal(decoded.code, 0, decoded.stderr);
    const readBack = decoded.lines.map((line) => {
      const match = /^(#\d+) (client|server) (\d+) -> (?:client|server) \d+ (.*)$/.exec(line);
      assert.ok(match, line);
      return `${match[3]} ${match[2] === "client" ? "C>S" : "S>C"} ${match[1]} ${match[4]}`;
    });
    assert.deepEqual(readBack, relayed);
  } finally {
    await Deno.remove(capture);
  }
});

Deno.test("deno task dump --json --hex prints one JSON object per line, with connection, direction and bytes", async () => {
  using server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { dump, port } = await DumpProcess.start([
    "--target",
    `127.0.0.1:${server.addr.port}`,
    "--json",
    "--hex",
  ]);
  await using _dump = dump;
  const ping = encodeFrame(Ping, { timestamp: 1000 });
  {
    await using peer = await RawPeer.connect(port);
    await using accepted = RawPeer.accept(await within(server.accept(), "the relay's connection"));
    await peer.write(ping);
    assert.equal((await within(accepted.next(), "the ping"))?.type, "control");
    await accepted.write(encodeFrame(Pong, { timestamp: 1000 }));
    assert.equal((await within(peer.next(), "the pong"))?.type, "control");
  }
  await dump.waitForLine((line) => line.includes('"type":"close"'), "the close line");
  const { code, lines, stderr } = await dump.stop();
  assert.equal(code, 0, stderr);
  const objects = lines.map((line) => JSON.parse(line));
  assert.deepEqual(objects[0], {
    type: "relaying",
    listen: `127.0.0.1:${port}`,
    target: `127.0.0.1:${server.addr.port}`,
  });
  assert.deepEqual(objects.at(-1), { type: "stopped" });
  const packets = objects.filter((object) => object.type === "packet");
  assert.deepEqual(
    packets.map(({ conn, direction, schema, hex }) => ({ conn, direction, schema, hex })),
    [
      { conn: 1, direction: "C>S", schema: "Ping", hex: toHex(ping) },
      {
        conn: 1,
        direction: "S>C",
        schema: "Pong",
        hex: toHex(encodeFrame(Pong, { timestamp: 1000 })),
      },
    ],
  );
  for (const object of objects.slice(1, -1)) {
    assert.equal(object.conn, 1, JSON.stringify(object));
    assert.equal(typeof object.time, "number");
  }
  assert.deepEqual(objects.map((object) => object.type), [
    "relaying",
    "open",
    "packet",
    "packet",
    ...objects.slice(4, -2).map(() => "end"),
    "close",
    "stopped",
  ]);
});

Deno.test("deno task dump --filter prints only the packets of the names given, and every connection line", async () => {
  await using demo = await startDemo();
  const { dump, port } = await DumpProcess.start([
    "--target",
    `127.0.0.1:${demo.port}`,
    "--filter",
    "hello",
    "--filter",
    "RoomJoined",
  ]);
  await using _dump = dump;
  await seedFlow(port);
  await dump.waitForLine(closedLine(1), "the end of the connection");
  const { code, lines, stderr } = await dump.stop();
  assert.equal(code, 0, stderr);
  const packets = lines.flatMap((line) => {
    const match = PACKET_LINE.exec(line);
    return match === null ? [] : [`${match[2]} ${match[3]!.split(" ")[1]}`];
  });
  assert.deepEqual(packets, [
    "S>C RoomJoined",
    "C>S EventName",
    "C>S RoomEvent",
    "S>C EventName",
    "S>C RoomEvent",
  ]);
  assert.ok(lines.some((line) => / open: client /.test(line)), lines.join("\n"));
  assert.ok(lines.some(closedLine(1)), lines.join("\n"));
});

Deno.test("deno task dump stops on SIGINT with a connection open, closing both of its sides", async () => {
  using server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { dump, port } = await DumpProcess.start(["--target", `127.0.0.1:${server.addr.port}`]);
  await using _dump = dump;
  await using peer = await RawPeer.connect(port);
  await using accepted = RawPeer.accept(await within(server.accept(), "the relay's connection"));
  await dump.waitForLine((line) => / open: client /.test(line), "the open line");
  const { code, lines, stderr } = await dump.stop();
  assert.equal(code, 0, stderr);
  assert.ok(lines.some(closedLine(1)), lines.join("\n"));
  assert.equal(lines.at(-1), "stopped");
  assert.equal(await within(peer.next(), "the client's end"), undefined);
  assert.equal(await within(accepted.next(), "the server's end"), undefined);
});

Deno.test("deno task dump --help explains relaying, the options and the capture format", async () => {
  const { code, lines } = await run([...await dumpTaskArgs(), "--help"]);
  assert.equal(code, 0);
  const help = lines.join("\n");
  for (
    const word of [
      ...["--listen", "--target", "--hex", "--json", "--filter", "--save", "--schemas"],
      ...["--connect", "--join", "--key", "--player", "--list", "--prefix", "--available"],
    ]
  ) {
    assert.ok(help.includes(word), word);
  }
  assert.ok(help.includes("# game-socket relay capture 1"));
});

Deno.test("deno task dump refuses a missing or malformed address with exit status 2", async () => {
  const task = await dumpTaskArgs();
  const runs = await Promise.all([
    run([...task, "--listen", "127.0.0.1", "--target", "127.0.0.1:3103"]),
    run([...task, "--listen", "127.0.0.1:0", "--target", "127.0.0.1:0"]),
    run([...task, "--listen", "127.0.0.1:70000", "--target", "127.0.0.1:3103"]),
    run([...task, "--target", "127.0.0.1:3103"]),
    run([...task, "--listen", "127.0.0.1:0", "--bogus"]),
  ]);
  assert.deepEqual(runs.map((run) => run.code), [2, 2, 2, 2, 2]);
  assert.match(runs[0]!.stderr, /--listen: expected host:port/);
  assert.match(runs[1]!.stderr, /--target: the port must be in 1\.\.65535, got 0/);
  assert.match(runs[2]!.stderr, /--listen: the port must be in 0\.\.65535, got 70000/);
  assert.match(runs[3]!.stderr, /needs --listen <host:port> and --target <host:port>/);
  assert.match(runs[4]!.stderr, /--help/);
});

Deno.test("deno task dump --connect joins a room and prints what arrives, until SIGINT", async () => {
  await using demo = await startDemo();
  const { dump } = await DumpProcess.start(
    ["--connect", `127.0.0.1:${demo.port}`, "--ns", "/home", "--join", "lobby"],
    false,
  );
  await using _dump = dump;
  assert.equal(dump.lines[0], `watching 127.0.0.1:${demo.port} /home lobby`);
  const joined = await dump.waitForLine((line) => / \/home joined lobby /.test(line), "the join");
  assert.match(joined, /^\d+\.\d{3} \/home joined lobby as #1, 1 member: [\w-]{22} #1$/);
  await seedFlow(demo.port);
  const hello = await dump.waitForLine((line) => / hello from /.test(line), "the hello");
  assert.match(hello, /^\d+\.\d{3} \/home lobby hello from [\w-]{22}: "hello all"$/);
  const entered = await dump.waitForLine((line) => / entered$/.test(line), "the member's entry");
  assert.match(entered, /^\d+\.\d{3} \/home lobby: [\w-]{22} #2 entered$/);
  const { code } = await dump.stop();
  assert.equal(code, 0);
});

Deno.test("deno task dump --connect joins a locked room with --key as --player, and shows moves", async () => {
  await using demo = await startDemo();
  await using ann = new GameSocketClient();
  await ann.connect("127.0.0.1", demo.port);
  const annLobby = await within(ann.of("/lobby").ready, "ann's handshake");
  await within(annLobby.createRoom("duel", { capacity: 4, key: "s3cret", leave: "hall" }));
  const { dump } = await DumpProcess.start(
    [
      ...["--connect", `127.0.0.1:${demo.port}`, "--ns", "/lobby"],
      ...["--join", "duel", "--key", "s3cret", "--player", "spy"],
    ],
    false,
  );
  await using _dump = dump;
  const joined = await dump.waitForLine((line) => / joined duel /.test(line), "the join");
  assert.match(
    joined,
    new RegExp(`^\\d+\\.\\d{3} /lobby joined duel as spy #2, 2/4 members: ${annLobby.id} #1, `),
  );
  await using bob = new GameSocketClient();
  await bob.connect("127.0.0.1", demo.port);
  const bobLobby = await within(bob.of("/lobby").ready, "bob's handshake");
  await within(bobLobby.join("duel", { key: "s3cret", leave: "hall", player: "bob" }));
  const moved = await dump.waitForLine((line) => / moved from /.test(line), "bob's move");
  assert.match(
    moved,
    new RegExp(`^\\d+\\.\\d{3} /lobby duel: ${bobLobby.id} bob #3 moved from hall$`),
  );
  bobLobby.to("duel").emit("chat", "hi");
  await dump.waitForLine(
    (line) => line.endsWith(`/lobby duel chat from ${bobLobby.id}: "hi"`),
    "chat",
  );
  const { code } = await dump.stop();
  assert.equal(code, 0);
});

Deno.test("deno task dump --connect exits 1 when the join is refused, 2 when mixed with relay flags", async () => {
  await using demo = await startDemo();
  const refused = await run([
    ...await dumpTaskArgs(),
    "--connect",
    `127.0.0.1:${demo.port}`,
    "--ns",
    "/nowhere",
  ]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /cannot connect \/nowhere: .*does not exist/);
  const missing = await run([
    ...await dumpTaskArgs(),
    "--connect",
    `127.0.0.1:${demo.port}`,
    "--ns",
    "/lobby",
    "--join",
    "nowhere",
  ]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot join nowhere: .* \(not_found\)/);
  const mixed = await run([
    ...await dumpTaskArgs(),
    "--connect",
    `127.0.0.1:${demo.port}`,
    "--listen",
    "127.0.0.1:0",
  ]);
  assert.equal(mixed.code, 2);
  const stray = await run([...await dumpTaskArgs(), "--join", "lobby"]);
  assert.equal(stray.code, 2);
});
