/**
 * `deno task serve` and the example client, as processes: the server is listening soon after
 * start (on TCP, and on UDP with the TCP port's number unless told otherwise), the example
 * client prints its handshake, the lobby join and the hello broadcast, clients' UDP paths open
 * (or are not offered with --no-udp), and the server stops cleanly on SIGINT.
 */

import assert from "node:assert/strict";
import { GameSocketClient, type UdpState } from "../client.ts";
import { within } from "./within.ts";

const ROOT = new URL("../", import.meta.url);

/** The arguments of `deno task serve` after `deno`, read from deno.json so the test runs the task. */
async function serveTaskArgs(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const [deno, ...args] = String(config.tasks.serve).split(" ");
  assert.equal(deno, "deno");
  return args;
}

/** Reads lines of a stream until one matches; resolves with every line read so far. */
async function readUntil(
  reader: ReadableStreamDefaultReader<string>,
  done: (line: string) => boolean,
): Promise<string[]> {
  const lines: string[] = [];
  let pending = "";
  while (true) {
    const { value, done: ended } = await reader.read();
    if (ended) return lines;
    pending += value;
    const parts = pending.split("\n");
    pending = parts.pop()!;
    lines.push(...parts);
    if (parts.some(done)) return lines;
  }
}

/** `deno task serve` with these arguments, as a child; its standard output as lines. */
async function startServe(args: string[]): Promise<{
  child: Deno.ChildProcess;
  reader: ReadableStreamDefaultReader<string>;
}> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...await serveTaskArgs(), ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  return { child, reader: child.stdout.pipeThrough(new TextDecoderStream()).getReader() };
}

/** Stops a serve child with SIGINT and checks that it shut down cleanly. */
async function stopServe(
  { child, reader }: { child: Deno.ChildProcess; reader: ReadableStreamDefaultReader<string> },
): Promise<void> {
  child.kill("SIGINT");
  const rest = await readUntil(reader, () => false);
  assert.equal((await child.status).code, 0);
  assert.ok(rest.includes("shutting down"), rest.join("\n"));
}

/** Resolves with the state a client's UDP path settles in: `open` or `failed`. */
function udpSettled(client: GameSocketClient): Promise<UdpState> {
  const state = client.udp?.state;
  if (state === "open" || state === "failed") return Promise.resolve(state);
  return within(
    new Promise<UdpState>((resolve) => {
      const settle = (state: UdpState) => {
        if (state !== "open" && state !== "failed") return;
        client.off("udp_state", settle);
        resolve(state);
      };
      client.on("udp_state", settle);
    }),
    "the UDP path to open",
  );
}

Deno.test("deno task serve listens, serves the example client, and stops on SIGINT", async () => {
  const started = performance.now();
  const serve = new Deno.Command(Deno.execPath(), {
    args: [...await serveTaskArgs(), "--port", "0", "--hostname", "127.0.0.1"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = serve.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const [listening] = await readUntil(reader, (line) => line.startsWith("listening on"));
    console.log(`serve was listening ${(performance.now() - started).toFixed(0)} ms after spawn`);
    const port = listening?.match(/127\.0\.0\.1:(\d+)/)?.[1];
    assert.ok(port, `no port in ${listening}`);
    // UDP is on, on the TCP port's number.
    assert.equal(
      listening,
      `listening on 127.0.0.1:${port} (TCP) and 127.0.0.1:${port} (UDP); namespaces /, /home, /lobby and /bench`,
    );

    const example = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "examples/client.ts", "--port", port],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(example.stdout);
    assert.equal(example.code, 0, new TextDecoder().decode(example.stderr));
    assert.match(out, /^handshake \/ socket [\w-]{22} /m);
    assert.match(out, /^handshake \/home socket [\w-]{22} /m);
    assert.match(out, /^joined lobby$/m);
    assert.match(out, /^hello from [\w-]{22} in lobby: hello all$/m);

    const log = await readUntil(reader, (line) => line.includes("/: disconnect"));
    assert.ok(log.some((line) => /^\/home: connect /.test(line)), log.join("\n"));
    assert.ok(log.some((line) => line === "/home: room created lobby"), log.join("\n"));
    assert.ok(log.some((line) => /^\/home: hello from .* to lobby: "hello all"$/.test(line)));
    assert.ok(log.some((line) => /^\/: disconnect .* \(client disconnect\)$/.test(line)));
  } finally {
    serve.kill("SIGINT");
    const rest = await readUntil(reader, () => false);
    const status = await serve.status;
    assert.equal(status.code, 0);
    assert.ok(rest.includes("shutting down"), rest.join("\n"));
  }
});

Deno.test("deno task serve --help prints the options and exits 0", async () => {
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "cli/serve.ts", "--help"],
    cwd: ROOT,
    stdout: "piped",
  }).output();
  assert.equal(code, 0);
  const text = new TextDecoder().decode(stdout);
  for (const option of ["--port", "--hostname", "--udp-port", "--no-udp", "--cert", "--key"]) {
    assert.ok(text.includes(option));
  }
});

Deno.test("deno task serve refuses a bad port with exit status 2", async () => {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "cli/serve.ts", "--port", "70000"],
    cwd: ROOT,
    stderr: "piped",
  }).output();
  assert.equal(code, 2);
  assert.match(new TextDecoder().decode(stderr), /--port/);
});

Deno.test("deno task serve --udp-port 0 binds UDP on a port of its own, where clients' paths open", async () => {
  const serve = await startServe(["--port", "0", "--hostname", "127.0.0.1", "--udp-port", "0"]);
  try {
    const [listening] = await readUntil(serve.reader, (line) => line.startsWith("listening on"));
    const match = listening?.match(
      /^listening on 127\.0\.0\.1:(\d+) \(TCP\) and 127\.0\.0\.1:(\d+) \(UDP\); namespaces /,
    );
    assert.ok(match, `unexpected line: ${listening}`);
    const [port, udpPort] = [Number(match[1]), Number(match[2])];
    assert.ok(udpPort > 0);
    await using client = new GameSocketClient();
    await client.connect("127.0.0.1", port);
    assert.equal(await udpSettled(client), "open");
    assert.equal(client.udp?.bound, true);
  } finally {
    await stopServe(serve);
  }
});

Deno.test("deno task serve --no-udp listens on TCP alone and offers clients no UDP", async () => {
  const serve = await startServe(["--port", "0", "--hostname", "127.0.0.1", "--no-udp"]);
  try {
    const [listening] = await readUntil(serve.reader, (line) => line.startsWith("listening on"));
    const match = listening?.match(
      /^listening on 127\.0\.0\.1:(\d+) \(TCP\); namespaces \/, \/home, \/lobby and \/bench$/,
    );
    assert.ok(match, `unexpected line: ${listening}`);
    await using client = new GameSocketClient();
    await client.connect("127.0.0.1", Number(match[1]));
    assert.equal(client.udp, undefined);
  } finally {
    await stopServe(serve);
  }
});

Deno.test("deno task serve refuses a bad --udp-port, and --udp-port with --no-udp, with exit status 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--udp-port", "70000"], /--udp-port must be an integer in 0\.\.65535/],
    [["--udp-port", "abc"], /--udp-port must be an integer/],
    [["--udp-port", "4000", "--no-udp"], /--udp-port and --no-udp exclude each other/],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "cli/serve.ts", ...args],
      cwd: ROOT,
      stderr: "piped",
    }).output();
    assert.equal(code, 2, args.join(" "));
    assert.match(new TextDecoder().decode(stderr), message, args.join(" "));
  }
});

Deno.test("deno task serve's /lobby puts players in the hall and logs rooms created, joined and full", async () => {
  const serve = await startServe(["--port", "0", "--hostname", "127.0.0.1", "--no-udp"]);
  try {
    const [listening] = await readUntil(serve.reader, (line) => line.startsWith("listening on"));
    const port = Number(listening?.match(/127\.0\.0\.1:(\d+)/)?.[1]);
    await using ann = new GameSocketClient();
    await ann.connect("127.0.0.1", port);
    const lobby = await within(ann.of("/lobby").ready, "the handshake of /lobby");
    await within(lobby.createRoom("solo", { capacity: 1, key: "k", leave: "hall" }), "the create");
    const page = await within(lobby.listRooms(), "the listing");
    assert.deepEqual(page.rooms, [
      { name: "hall", members: 0, metadata: {}, locked: false },
      { name: "solo", members: 1, capacity: 1, metadata: {}, locked: true },
    ]);
    const log = await readUntil(serve.reader, (line) => line.startsWith("/lobby: room full"));
    const id = lobby.id;
    for (
      const line of [
        `/lobby: connect ${id}`,
        `/lobby: ${id} (#1) joined hall`,
        `/lobby: room created solo by ${id} (capacity 1, locked)`,
        `/lobby: ${id} (#1) left hall`,
        `/lobby: ${id} (#1) joined solo`,
        "/lobby: room full solo",
      ]
    ) {
      assert.ok(log.includes(line), `no "${line}" in\n${log.join("\n")}`);
    }
  } finally {
    await stopServe(serve);
  }
});
