/**
 * `deno task serve` and the example client, as processes: the server is listening soon after
 * start, the example client prints its handshake, the lobby join and the hello broadcast, and
 * the server stops cleanly on SIGINT.
 */

import assert from "node:assert/strict";

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
  for (const option of ["--port", "--hostname", "--cert", "--key"]) {
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
