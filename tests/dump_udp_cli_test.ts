/**
 * `deno task dump --udp-port` as a process: it says where it relays UDP, forwards datagrams
 * unchanged both ways, prints each (as text or JSON, filtered by frame), prints bad ones and
 * relays them, warns about a `Handshake` that sends datagrams past it, keeps datagrams out of
 * its `--save` capture (which `deno task decode` still reads), and refuses a bad `--udp-port`.
 */

import assert from "node:assert/strict";
import {
  concatBytes,
  DatagramType,
  encodeFrame,
  encodeHello,
  Event,
  EventName,
  Handshake,
  PayloadType,
  Ping,
  writeDatagram,
} from "../protocol/mod.ts";
import { DumpProcess, dumpTaskArgs, run } from "./fixtures/dump_process.ts";
import { UdpPeer } from "./udp_harness.ts";
import { within } from "./within.ts";

const DECODE = new URL("../cli/decode.ts", import.meta.url).pathname;

function handshake(udpPort: number, udpSession: number): Uint8Array {
  return encodeFrame(Handshake, {
    namespace: "/",
    channel: 0,
    socketId: "s-1",
    protocolVersion: 1,
    schemaFingerprint: "cbf29ce484222325",
    heartbeatInterval: 25000,
    heartbeatTimeout: 20000,
    maxFrameSize: 65536,
    udpPort,
    udpSession,
    udpKey: new Uint8Array(32),
  });
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
}

const UDP_LINE = / \d+\.\d{3}s udp /;
const withoutTime = (line: string) => line.replace(/ \d+\.\d{3}s /, " T ");

Deno.test("deno task dump --udp-port relays datagrams both ways, prints them, warns about an explicit udpPort, and keeps them out of --save", async () => {
  using tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await using udp = await UdpPeer.open();
  const capture = await Deno.makeTempFile({ prefix: "dump_udp_capture_", suffix: ".txt" });
  try {
    const { dump, port } = await DumpProcess.start([
      "--target",
      `127.0.0.1:${tcp.addr.port}`,
      "--udp-port",
      String(udp.port),
      "--save",
      capture,
    ]);
    await using _dump = dump;
    assert.equal(
      dump.lines[0],
      `relaying 127.0.0.1:${port} -> 127.0.0.1:${tcp.addr.port}, ` +
        `udp 127.0.0.1:${port} -> 127.0.0.1:${udp.port}`,
    );

    // A TCP connection whose Handshake announces session 5 on an explicit port.
    using conn = await Deno.connect({ hostname: "127.0.0.1", port });
    using accepted = await within(tcp.accept(), "the relay's connection");
    await writeAll(accepted, handshake(4001, 5));
    const warning = await dump.waitForLine((line) => / warning: /.test(line), "the warning");
    assert.match(
      warning,
      /^conn 1 +\d+\.\d{3}s warning: the server announces UDP port 4001: .* bypassing the relay; have the server announce the same-port form \(udpPort 0\) to relay them$/,
    );
    // Only once the Handshake is through, so the capture's order is this one.
    await writeAll(conn, encodeFrame(EventName, { id: 0, name: "move" }));
    await dump.waitForLine((line) => /EventName/.test(line), "the EventName");

    await using client = await UdpPeer.open();
    const up = [
      writeDatagram(
        { fromServer: false, type: DatagramType.Hello, session: 5, sequence: 0 },
        encodeHello({ time: 1, echo: 0 }),
      ),
      writeDatagram(
        { fromServer: false, type: DatagramType.Sequenced, session: 5, sequence: 1 },
        encodeFrame(Event, {
          event: 0,
          payloadType: PayloadType.String,
          payload: Uint8Array.of(0x61),
        }),
      ),
      Uint8Array.of(0x12, 0x00, 0x00),
    ];
    let upstreamPort = 0;
    for (const bytes of up) {
      client.send(bytes, port);
      const arrived = await udp.next("the datagram at the server");
      assert.deepEqual(arrived.data, bytes);
      upstreamPort = arrived.port;
    }
    const answer = writeDatagram(
      { fromServer: true, type: DatagramType.Hello, session: 5, sequence: 0 },
      encodeHello({ time: 2, echo: 1 }),
    );
    udp.send(answer, upstreamPort);
    const back = await client.next("the server's hello");
    assert.deepEqual(back.data, answer);
    assert.equal(back.port, port);

    const lines = await dump.waitForLines((line) => UDP_LINE.test(line), 5, "the datagram lines");
    assert.deepEqual(lines.map(withoutTime), [
      `peer 1     T udp open: client 127.0.0.1:${client.port}, server 127.0.0.1:${udp.port} ` +
      `(from 127.0.0.1:${upstreamPort})`,
      "conn 1 C>S T udp hello session 5 seq 0 (bad tag) {time: 1, echo: 0}",
      `conn 1 C>S T udp sequenced session 5 seq 1 (bad tag) Event / {event: 0 "move", payloadType: 2 (string), payload: "a"}`,
      "peer 1 C>S T udp bad: Cannot decode datagram: 3 bytes, at least 26 needed (at byte 0) [truncated]",
      "conn 1 S>C T udp hello session 5 seq 0 (bad tag) {time: 2, echo: 1}",
    ]);
    const { code, stderr, lines: all } = await dump.stop();
    assert.equal(code, 0, stderr);
    assert.equal(all.at(-1), "stopped");

    // The capture holds the TCP side only, and says so.
    const text = await Deno.readTextFile(capture);
    assert.match(text, /^# relaying udp .*; datagrams are not recorded in this capture$/m);
    const decoded = await run(["run", "--allow-read", DECODE, "--file", capture]);
    assert.equal(decoded.code, 0, decoded.stderr);
    assert.deepEqual(
      decoded.lines.map((line) => line.replace(/ \{.*/, "")),
      ["#1 server 1 -> client 1 Handshake /", "#2 client 1 -> server 1 EventName /"],
    );
  } finally {
    await Deno.remove(capture);
  }
});

Deno.test("deno task dump --udp-port --json --filter prints a datagram with the frames that match, and bad datagrams", async () => {
  using tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await using udp = await UdpPeer.open();
  const { dump, port } = await DumpProcess.start([
    "--target",
    `127.0.0.1:${tcp.addr.port}`,
    "--udp-port",
    String(udp.port),
    "--json",
    "--filter",
    "shoot",
  ]);
  await using _dump = dump;
  assert.deepEqual(JSON.parse(dump.lines[0]!), {
    type: "relaying",
    listen: `127.0.0.1:${port}`,
    target: `127.0.0.1:${tcp.addr.port}`,
    udp: { listen: `127.0.0.1:${port}`, target: `127.0.0.1:${udp.port}` },
  });
  await using client = await UdpPeer.open();
  const sent = [
    writeDatagram(
      { fromServer: false, type: DatagramType.Unreliable, session: 8, sequence: 0 },
      encodeFrame(Ping, { timestamp: 1 }),
    ),
    writeDatagram(
      { fromServer: false, type: DatagramType.Unreliable, session: 8, sequence: 1 },
      concatBytes([
        encodeFrame(EventName, { id: 3, name: "shoot" }),
        encodeFrame(Event, { event: 3, payloadType: PayloadType.None }),
        encodeFrame(Ping, { timestamp: 2 }),
      ]),
    ),
    Uint8Array.of(0x99),
  ];
  for (const bytes of sent) {
    client.send(bytes, port);
    assert.deepEqual((await udp.next()).data, bytes);
  }
  const isDatagram = (line: string) => line.includes('"type":"datagram"');
  await dump.waitForLines((line) => line.includes('"error"'), 1, "the bad datagram");
  const { code, stderr, lines } = await dump.stop();
  assert.equal(code, 0, stderr);
  const datagrams = lines.filter(isDatagram).map((line) => JSON.parse(line));
  assert.deepEqual(
    datagrams.map(({ sequence, frames, error }) => ({
      sequence,
      frames: frames?.map((frame: { number: number; schema: string }) =>
        `${frame.number} ${frame.schema}`
      ),
      error: error?.code,
    })),
    [
      { sequence: 1, frames: ["1 EventName", "2 Event"], error: undefined },
      { sequence: null, frames: undefined, error: "truncated" },
    ],
  );
  assert.equal(lines.filter((line) => line.includes('"type":"peer"')).length, 1);
});

Deno.test("deno task dump refuses a bad --udp-port, and --udp-port in client mode, with exit status 2", async () => {
  const task = await dumpTaskArgs();
  const target = ["--listen", "127.0.0.1:0", "--target", "127.0.0.1:3103"];
  const runs = await Promise.all([
    run([...task, ...target, "--udp-port", "0"]),
    run([...task, ...target, "--udp-port", "70000"]),
    run([...task, ...target, "--udp-port", "x"]),
    run([...task, "--connect", "127.0.0.1:3103", "--udp-port", "3103"]),
  ]);
  assert.deepEqual(runs.map((run) => run.code), [2, 2, 2, 2]);
  assert.match(runs[0]!.stderr, /--udp-port: the port must be in 1\.\.65535, got "0"/);
  assert.match(runs[3]!.stderr, /--connect \(client mode\) goes without .*--udp-port/);
  const help = await run([...task, "--help"]);
  assert.equal(help.code, 0);
  assert.ok(help.lines.some((line) => line.includes("--udp-port <port>")));
});
