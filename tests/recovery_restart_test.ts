/**
 * A server process restart: its clients reconnect with backoff and, with recovery impossible
 * (the new process knows none of their sessions), come back as fresh sessions in their
 * namespaces and rooms.
 */

import assert from "node:assert/strict";
import { GameSocketClient, type ReconnectInfo } from "../client.ts";
import { eventOf, within } from "./within.ts";

const ROOT = new URL("../", import.meta.url);

/** `deno task serve` on a port, as a child; resolves once it listens, with its TCP port. */
async function serve(port: number): Promise<{ child: Deno.ChildProcess; port: number }> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const [, ...args] = String(config.tasks.serve).split(" ");
  const child = new Deno.Command(Deno.execPath(), {
    args: [...args, "--hostname", "127.0.0.1", "--port", String(port), "--no-udp"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await within(reader.read(), "the serve's first line", 10_000);
    if (done) throw new Error(`serve ended: ${text}`);
    text += value;
  }
  const match = /listening on 127\.0\.0\.1:(\d+)/.exec(text);
  assert.ok(match, text);
  // The rest of its output is not needed; reading it keeps the pipe from filling.
  void (async () => {
    while (!(await reader.read()).done);
  })();
  return { child, port: Number(match[1]) };
}

Deno.test("After a server process restart, clients reconnect with backoff and come back as fresh sessions in their namespaces and rooms", async () => {
  const first = await serve(0);
  let second: { child: Deno.ChildProcess } | undefined;
  const client = new GameSocketClient({
    reconnection: { firstDelay: 20, maxDelay: 200, factor: 2, randomization: 0.2 },
  });
  try {
    await client.connect("127.0.0.1", first.port);
    const home = await within(client.of("/home").ready);
    await within(home.join("lobby"));
    const oldIds = [client.root!.id, home.id];
    const errors: unknown[] = [];
    client.on("reconnect_error", (error) => errors.push(error));
    const attempts: number[] = [];
    client.on("reconnect_attempt", (n) => attempts.push(n));
    const lost = eventOf<[string]>(home, "disconnect");
    // The process dies at once: no goodbye, the connection just ends.
    first.child.kill("SIGKILL");
    await first.child.status;
    await lost;
    assert.equal(client.state, "reconnecting");
    // Attempts fail while nothing listens; then the server comes back on the same port.
    await within(
      new Promise<void>((resolve) => client.on("reconnect_error", () => resolve())),
      "a failed attempt",
    );
    const back = eventOf<[ReconnectInfo]>(client, "reconnect");
    const expired = eventOf(client, "session_expired");
    const homeBack = eventOf(home, "connect");
    second = await serve(first.port);
    const [info] = await within(back, "the reconnection", 10_000);
    await expired;
    await homeBack;
    assert.equal(info.recovered, false);
    assert.ok(info.attempts >= 2 && attempts.length === info.attempts, String(attempts));
    assert.ok(errors.length >= 1);
    assert.notDeepEqual([client.root!.id, home.id], oldIds);
    assert.equal(home.connected, true);
    await within(
      new Promise<void>((resolve) => {
        if (home.rooms.has("lobby")) resolve();
        else home.once("room_joined", () => resolve());
      }),
      "the lobby again",
    );
  } finally {
    await client.close();
    for (const process of [first, second]) {
      if (process === undefined) continue;
      try {
        process.child.kill("SIGKILL");
      } catch {
        // Exited already.
      }
      await process.child.status;
    }
  }
});
