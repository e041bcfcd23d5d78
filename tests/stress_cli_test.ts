/**
 * `deno task stress` as a process: against `deno task serve` (the done-when: 200
 * clients for 5 s, no errors, nothing lost; and with --udp, every update sent and relayed as a
 * datagram), its JSON report, its exit status 1 when connections fail or UDP is not offered,
 * and 2 on bad arguments. With --chaos: connections cut during the run, every session resumed,
 * no reliable message lost or duplicated; exit status 1 when sessions cannot resume.
 */

import assert from "node:assert/strict";
import { createDemoServer } from "../cli/demo_server.ts";
import { within } from "./within.ts";

const ROOT = new URL("../", import.meta.url);

/** The arguments of a task after `deno`, read from deno.json so the test runs the task. */
async function taskArgs(task: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const [deno, ...args] = String(config.tasks[task]).split(" ");
  assert.equal(deno, "deno");
  return args;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function stress(args: string[]): Promise<Run> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [...await taskArgs("stress"), ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** The JSON object on the last line of standard output. */
function lastJson(run: Run): Record<string, unknown> {
  const lines = run.stdout.trimEnd().split("\n");
  return JSON.parse(lines.at(-1)!);
}

const REQUIRED_KEYS = [
  "transport",
  "clients",
  "addresses",
  "connected",
  "failed",
  "sent",
  "sent_udp",
  "expected",
  "received",
  "received_udp",
  "udp_dropped",
  "lost",
  "errors",
  "msgs_per_s",
  "latency_ms",
  "gen_cpu_util",
  "send_lag_max_ms",
  "window_s",
];

/** Reads lines of a stream until one matches; resolves with it (or undefined at the end). */
async function lineMatching(
  reader: ReadableStreamDefaultReader<string>,
  wanted: (line: string) => boolean,
): Promise<string | undefined> {
  let pending = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) return undefined;
    pending += value;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    const found = lines.find(wanted);
    if (found !== undefined) return found;
  }
}

Deno.test({
  name: "deno task stress: 200 clients for 5 s against deno task serve lose nothing",
  async fn() {
    const serve = new Deno.Command(Deno.execPath(), {
      args: [...await taskArgs("serve"), "--port", "0", "--hostname", "127.0.0.1"],
      cwd: ROOT,
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = serve.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let drained: Promise<void> | undefined;
    try {
      const listening = await lineMatching(reader, (line) => line.startsWith("listening on"));
      const port = listening?.match(/127\.0\.0\.1:(\d+)/)?.[1];
      assert.ok(port, `no port in ${listening}`);
      // Keep reading the server's log (a line per connection), so that a full pipe never
      // blocks it.
      drained = lineMatching(reader, () => false).then(() => {});
      const run = await stress(["--port", port, "--clients", "200", "--duration", "5", "--json"]);
      assert.equal(run.code, 0, run.stderr);
      const report = lastJson(run);
      console.log(
        `200 clients, 10 rooms, 20 Hz, 5 s: ${report.msgs_per_s} msgs/s, latency ms ${
          JSON.stringify(report.latency_ms)
        }, gen_cpu_util ${report.gen_cpu_util}, send_lag_max_ms ${report.send_lag_max_ms}, sent ${report.sent}, received ${report.received}`,
      );
      assert.equal(report.connected, 200);
      assert.equal(report.failed, 0);
      assert.deepEqual(report.errors, {});
      assert.equal(report.sent, 200 * 20 * 5);
      assert.equal(report.expected, 200 * 20 * 5 * 20);
      assert.equal(report.lost, 0);
      assert.equal(report.received, report.expected);
    } finally {
      serve.kill("SIGINT");
      if (drained === undefined) await reader.cancel();
      else await drained;
      assert.equal((await serve.status).code, 0);
    }
  },
});

Deno.test({
  name: "deno task stress --udp: 20 clients for 1 s against deno task serve, all by datagram",
  async fn() {
    const serve = new Deno.Command(Deno.execPath(), {
      args: [...await taskArgs("serve"), "--port", "0", "--hostname", "127.0.0.1"],
      cwd: ROOT,
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = serve.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let drained: Promise<void> | undefined;
    try {
      const listening = await lineMatching(reader, (line) => line.startsWith("listening on"));
      const port = listening?.match(/127\.0\.0\.1:(\d+)/)?.[1];
      assert.ok(port, `no port in ${listening}`);
      assert.match(listening!, /\(UDP\)/, "deno task serve offers UDP by default");
      drained = lineMatching(reader, () => false).then(() => {});
      const run = await stress([
        "--port",
        port,
        "--clients",
        "20",
        "--duration",
        "1",
        "--udp",
        "--json",
      ]);
      assert.equal(run.code, 0, run.stderr);
      const report = lastJson(run);
      console.log(
        `20 clients over UDP, 1 s: ${report.msgs_per_s} msgs/s, latency ms ${
          JSON.stringify(report.latency_ms)
        }, sent ${report.sent} (${report.sent_udp} by UDP), received ${report.received} (${report.received_udp} by UDP)`,
      );
      assert.equal(report.transport, "udp");
      assert.equal(report.connected, 20);
      assert.equal(report.failed, 0);
      assert.deepEqual(report.errors, {});
      assert.equal(report.sent, 20 * 20);
      assert.equal(report.sent_udp, report.sent, "every update left as a datagram");
      assert.equal(report.expected, 20 * 20 * 2);
      assert.equal(report.lost, 0);
      assert.equal(report.received_udp, report.received, "every delivery arrived as a datagram");
      assert.deepEqual(report.udp_dropped, {});
      assert.match(run.stderr, /over UDP \(unreliable\) to 127\.0\.0\.1:/);
      assert.match(run.stderr, /^transport\s+udp \(unreliable datagrams\)$/m);
      assert.match(run.stderr, /^received over UDP\s+800$/m);
      assert.match(
        run.stderr,
        /^messages lost: 0 of 800 expected \(0\.00 %\), sent as unreliable/m,
      );
    } finally {
      serve.kill("SIGINT");
      if (drained === undefined) await reader.cancel();
      else await drained;
      assert.equal((await serve.status).code, 0);
    }
  },
});

Deno.test("deno task stress --udp exits 1 when the server offers no UDP, saying so", async () => {
  await using server = createDemoServer({ hostname: "127.0.0.1", port: 0, log: () => {} });
  const { port } = await server.listen();
  const run = await stress([
    "--port",
    String(port),
    "--clients",
    "3",
    "--duration",
    "0.2",
    "--udp",
    "--json",
  ]);
  assert.equal(run.code, 1);
  const report = lastJson(run);
  assert.equal(report.failed, 3);
  assert.deepEqual(report.errors, { "udp: not offered": 3 });
  assert.match(run.stderr, /^ {2}udp: not offered: 3$/m);
});

Deno.test("deno task stress --chaos 10: 20 clients for 2 s, every cut session resumed, nothing lost or duplicated", async () => {
  await using server = createDemoServer({ hostname: "127.0.0.1", port: 0, log: () => {} });
  const { port } = await server.listen();
  const run = await stress([
    "--port",
    String(port),
    "--clients",
    "20",
    "--rooms",
    "4",
    "--duration",
    "2",
    "--kind",
    "event",
    "--chaos",
    "10",
    "--seed",
    "7",
    "--json",
  ]);
  assert.equal(run.code, 0, run.stderr);
  const report = lastJson(run);
  const chaos = report.chaos as Record<string, number>;
  console.log(`--chaos 10, 20 clients, 2 s: ${JSON.stringify(chaos)}`);
  assert.equal(chaos.rate, 10);
  assert.equal(chaos.seed, 7);
  assert.ok(chaos.cuts! >= 10, `cuts ${chaos.cuts}`);
  assert.ok(chaos.recovered! >= 10, `recovered ${chaos.recovered}`);
  assert.equal(chaos.recovered, chaos.reconnects);
  assert.equal(chaos.expired, 0);
  assert.equal(chaos.duplicates, 0);
  assert.equal(report.lost, 0);
  assert.equal(report.sent, 800);
  assert.equal(report.received, 4000);
  assert.deepEqual(report.errors, {});
  assert.match(run.stderr, /, through a relay cutting 10 connections\/s \(seed 7\)$/m);
  assert.match(run.stderr, /^chaos: 10 cuts\/s across all connections \(seed 7\)$/m);
  assert.match(run.stderr, new RegExp(`^ {2}cuts made {2,}${chaos.cuts}$`, "m"));
  assert.match(run.stderr, new RegExp(`^ {2}sessions recovered {2,}${chaos.recovered}$`, "m"));
  assert.match(run.stderr, /^ {2}sessions expired {2,}0$/m);
  assert.match(run.stderr, /^ {2}reliable messages lost {2,}0$/m);
  assert.match(run.stderr, /^ {2}duplicates {2,}0$/m);
  assert.doesNotMatch(run.stderr, /FAIL/);
});

Deno.test("deno task stress --chaos exits 1 when sessions cannot resume, counting them expired and the losses", async () => {
  await using server = createDemoServer({
    hostname: "127.0.0.1",
    port: 0,
    log: () => {},
    recovery: false,
  });
  const { port } = await server.listen();
  const run = await stress([
    "--port",
    String(port),
    "--clients",
    "8",
    "--rooms",
    "1",
    "--duration",
    "1",
    "--drain",
    "1",
    "--chaos",
    "4",
    "--json",
  ]);
  assert.equal(run.code, 1, run.stderr);
  const report = lastJson(run);
  const chaos = report.chaos as Record<string, number>;
  assert.ok(chaos.expired! >= 1, `expired ${chaos.expired}`);
  assert.equal(chaos.recovered, 0);
  assert.ok((report.lost as number) > 0);
  assert.match(run.stderr, /FAIL: \d+ reliable messages lost and 0 duplicated under --chaos/);
});

Deno.test("deno task stress --json ends with one JSON object holding every figure", async () => {
  await using server = createDemoServer({ hostname: "127.0.0.1", port: 0, log: () => {} });
  const { port } = await server.listen();
  const run = await stress([
    "--port",
    String(port),
    "--clients",
    "10",
    "--rooms",
    "2",
    "--duration",
    "1",
    "--kind",
    "event",
    "--json",
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trimEnd().split("\n").length, 1, "standard output holds the JSON alone");
  const report = lastJson(run);
  for (const key of REQUIRED_KEYS) assert.ok(key in report, `no ${key} in ${run.stdout}`);
  assert.deepEqual(Object.keys(report.latency_ms as object), ["p50", "p90", "p99", "max"]);
  assert.equal(report.sent, 200);
  assert.equal(report.expected, 200 * 5);
  assert.equal(report.lost, 0);
  // People read the summary, histogram and errors on standard error.
  assert.match(run.stderr, /^msgs\/s\s+\d+$/m);
  assert.match(run.stderr, /^latency histogram:$/m);
  assert.match(run.stderr, /^errors: none$/m);
  assert.match(run.stderr, /^messages lost: 0 of 1000 expected/m);
  assert.equal(report.chaos, null);
  assert.doesNotMatch(run.stderr, /^chaos:/m);
});

Deno.test("deno task stress --addresses 3 spreads its clients over 127.0.0.1 to 127.0.0.3", async () => {
  // Two per address at most: six clients connect only if they come from three addresses.
  await using server = createDemoServer({
    hostname: "127.0.0.1",
    port: 0,
    log: () => {},
    maxConnectionsPerAddress: 2,
  });
  const { port } = await server.listen();
  const seen = new Map<string, number>();
  server.of("/bench").on("connection", (socket) => {
    const { hostname } = socket.handshake.address;
    seen.set(hostname, (seen.get(hostname) ?? 0) + 1);
  });
  const run = await stress(
    ["--port", String(port), "--clients", "6", "--addresses", "3", "--duration", "1", "--json"],
  );
  assert.equal(run.code, 0, run.stderr);
  const report = lastJson(run);
  assert.equal(report.addresses, 3);
  assert.equal(report.connected, 6);
  assert.match(run.stderr, /from 3 source addresses \(127\.0\.0\.1-127\.0\.0\.3\)/);
  assert.match(run.stderr, /^source addresses\s+3$/m);
  assert.deepEqual(
    new Map([...seen].sort()),
    new Map([["127.0.0.1", 2], ["127.0.0.2", 2], ["127.0.0.3", 2]]),
  );
});

Deno.test("deno task stress prints progress lines, the summary and the histogram", async () => {
  await using server = createDemoServer({ hostname: "127.0.0.1", port: 0, log: () => {} });
  const { port } = await server.listen();
  const run = await stress(["--port", String(port), "--clients", "4", "--duration", "2.5"]);
  assert.equal(run.code, 0, run.stderr);
  // Not a terminal: one progress line every 2 s.
  assert.match(
    run.stdout,
    /^ +2\.0 s {2}connected 4 {2}failed 0 {2}sent \d+ {2}received \d+ {2}msgs\/s \d+ {2}p50 .* ms {2}p99 .* ms$/m,
  );
  assert.doesNotMatch(run.stdout, /\r/);
  assert.match(run.stdout, /^sent\s+200$/m); // 4 clients × 20 Hz × 2.5 s
  assert.match(run.stdout, /^latency p99\s+[\d.]+ ms$/m);
  assert.match(run.stdout, /^ *[\d.]+ – [\d.]+ ms +\d+ +[\d.]+ % +#+$/m);
});

Deno.test("deno task stress stops on SIGINT, summarizes and exits", async () => {
  await using server = createDemoServer({ hostname: "127.0.0.1", port: 0, log: () => {} });
  const { port } = await server.listen();
  let resolveLeft: (reason: string) => void;
  const allLeft = new Promise<string>((resolve) => resolveLeft = resolve);
  let left = 0;
  server.of("/bench").on("connection", (socket) => {
    socket.on("disconnect", (reason) => ++left === 4 && resolveLeft(reason));
  });
  const child = new Deno.Command(Deno.execPath(), {
    args: [...await taskArgs("stress"), "--port", String(port), "--clients", "4", "-d", "600"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let rest = "";
  try {
    const progress = await lineMatching(reader, (line) => / s {2}connected 4 /.test(line));
    assert.ok(progress, "no progress line");
  } finally {
    child.kill("SIGINT");
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      rest += chunk.value;
    }
  }
  const status = await child.status;
  assert.equal(status.code, 0, await stderr);
  assert.match(rest, /^interrupted\s+yes$/m);
  assert.match(rest, /^sent\s+\d+$/m);
  assert.match(rest, /^messages lost: 0 of \d+ expected/m);
  assert.equal(await within(allLeft, "every client leaving"), "client disconnect");
});

Deno.test("deno task stress exits 1 and counts transport errors when nothing listens", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const run = await stress([
    "--port",
    String(port),
    "--clients",
    "7",
    "--duration",
    "0.2",
    "--json",
  ]);
  assert.equal(run.code, 1);
  const report = lastJson(run);
  assert.equal(report.failed, 7);
  assert.equal(report.connected, 0);
  assert.deepEqual(report.errors, { transport: 7 });
  assert.match(run.stderr, /^ {2}transport: 7$/m);
  assert.match(run.stderr, /FAIL: error rate 1\.00 exceeds --max-error-rate 0/);
});

Deno.test("deno task stress refuses bad arguments with exit status 2 and a message", async () => {
  const cases: [string[], RegExp][] = [
    [["--clients", "0"], /--clients must be an integer in 1\.\.20000/],
    [["--clients", "20001"], /--clients must be an integer in 1\.\.20000/],
    [["--clients", "2.5"], /--clients must be an integer/],
    [["--rooms", "abc"], /--rooms must be an integer/],
    [["--rate", "0"], /--rate must be a number above 0/],
    [["--duration", "3601"], /--duration must be a number above 0 and at most 3600/],
    [["--port", "70000"], /--port must be an integer in 1\.\.65535/],
    [["--ramp-up=-5"], /--ramp-up must be a number above 0/],
    [["--drain", ""], /--drain must be a number/],
    [["--host", ""], /--host is empty/],
    [["--kind", "datagram"], /--kind is message or event/],
    [["--udp", "--udp-timeout", "0"], /--udp-timeout must be a number above 0/],
    [["--udp-timeout", "2"], /--udp-timeout goes with --udp/],
    [["--namespace", "bench"], /namespace starts with "\/"/],
    [["--max-error-rate", "2"], /--max-error-rate must be a number in 0\.\.1/],
    [["--chaos", "0"], /--chaos must be a number above 0 and at most 1000, got "0"/],
    [["--chaos", "1001"], /--chaos must be a number above 0 and at most 1000/],
    [["--chaos", "often"], /--chaos must be a number above 0/],
    [["--chaos", "5", "--seed=-1"], /--seed must be an integer in 0\.\.4294967295/],
    [["--chaos", "5", "--seed", "1.5"], /--seed must be an integer/],
    [["--seed", "3"], /--seed goes with --chaos/],
    [["--chaos", "5", "--udp"], /--chaos goes with TCP, not --udp/],
    [["--chaos", "5", "--clients", "5000", "--rooms", "1"], /chaos tracks every pair/],
    [["--addresses", "0"], /--addresses must be an integer in 1\.\.250/],
    [["--addresses", "251"], /--addresses must be an integer in 1\.\.250/],
    [["--addresses", "2", "--host", "10.0.0.1"], /addresses above 1 need a loopback host/],
    [["--frobnicate"], /Unknown option '--frobnicate'/],
    [["extra"], /positional/i],
  ];
  const runs = await Promise.all(cases.map(([args]) => stress(args)));
  runs.forEach((run, i) => {
    const [args, message] = cases[i]!;
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, message, args.join(" "));
    assert.equal(run.stdout, "", args.join(" "));
  });
});

Deno.test("deno task stress --help lists every option and exits 0", async () => {
  const run = await stress(["--help"]);
  assert.equal(run.code, 0);
  for (
    const option of [
      "--host",
      "--port",
      "--clients",
      "--addresses",
      "--namespace",
      "--rooms",
      "--rate",
      "--kind",
      "--udp",
      "--udp-timeout",
      "--duration",
      "--ramp-up",
      "--drain",
      "--max-error-rate",
      "--chaos",
      "--seed",
      "--json",
      "--help",
    ]
  ) assert.ok(run.stdout.includes(option), option);
});
