/**
 * TLS over real loopback: a CA and a server certificate are made with openssl once per run of
 * this file, the server speaks TLS only, and clients verify it (verification is never off).
 */

import assert from "node:assert/strict";
import { ConnectError } from "../session/errors.ts";
import type { ServerSocket } from "../server.ts";
import { connectClient, startServer } from "./harness.ts";
import { eventOf, within } from "./within.ts";
import { makeTestCertificates, type TestCertificates } from "./fixtures/make_test_cert.ts";

let made: Promise<TestCertificates> | undefined;

/** The certificates, made on the first call and shared by every test of the file. */
function certificates(): Promise<TestCertificates> {
  return made ??= makeTestCertificates();
}

/**
 * A TLS server whose `/` doubles numbers as acknowledgements; it records the errors of closed
 * connections (`connection_closed`) and of handlers (`error`).
 */
async function startTlsServer() {
  const { cert, key } = await certificates();
  const started = await startServer({ tls: { cert, key } });
  const errors: unknown[] = [];
  let fail!: () => void;
  const failed = new Promise<void>((resolve) => fail = resolve);
  started.server.on("error", (error) => void errors.push(error));
  started.server.on("connection_closed", ({ reason, error }) => {
    if (error === undefined) return;
    assert.equal(reason, "transport error");
    errors.push(error);
    fail();
  });
  started.server.on("connection", (socket) => {
    socket.on("double", (n) => (n as number) * 2);
  });
  return Object.assign(started, { errors, failed });
}

Deno.test("A TLS client trusting the server's CA completes the handshake and exchanges an event and an ack", async () => {
  const { caCert } = await certificates();
  await using tls = await startTlsServer();
  const connected = eventOf<[ServerSocket]>(tls.server.root, "connection");
  await using client = await connectClient(tls.port, { tls: { caCerts: [caCert] } });
  const [socket] = await connected;
  const root = client.root!;
  const welcome = eventOf<[unknown]>(root, "welcome");
  assert.equal(socket.emit("welcome", { secure: socket.handshake.secure }), "sent");

  assert.equal(socket.handshake.secure, true);
  assert.equal(socket.connection.transport.secure, true);
  assert.deepEqual((await welcome)[0], { secure: true });
  assert.equal(await root.emitWithAck("double", 21), 42);
  assert.deepEqual(tls.errors, []);
});

Deno.test("A TLS client without the server's CA is refused with a transport ConnectError while the server keeps serving", async () => {
  const { caCert } = await certificates();
  await using tls = await startTlsServer();
  await using good = await connectClient(tls.port, { tls: { caCerts: [caCert] } });

  await assert.rejects(
    connectClient(tls.port, { tls: {} }),
    (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(error.code, "transport");
      assert.equal(error.namespace, "/");
      // Refused for the certificate, not for some other fault of the connection.
      assert.match(String((error.cause as Error).message), /UnknownIssuer|certificate/i);
      return true;
    },
  );

  assert.equal(await good.root!.emitWithAck("double", 4), 8);
  // The server reports the refused handshake with the connection's close, and drops it only.
  await within(tls.failed, "the server's report of the refused handshake");
  assert.ok(tls.errors[0] instanceof Deno.errors.InvalidData);
  assert.match((tls.errors[0] as Error).message, /UnknownCA/);
  assert.equal(tls.server.stats.connections, 1);
  assert.equal(await good.root!.emitWithAck("double", 6), 12);
});

Deno.test("A TLS client refuses a certificate that does not name the host it verifies", async () => {
  const { caCert } = await certificates();
  await using tls = await startTlsServer();
  await using good = await connectClient(tls.port, { tls: { caCerts: [caCert] } });

  await assert.rejects(
    connectClient(tls.port, { tls: { caCerts: [caCert], serverName: "localhost" } }),
    (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(error.code, "transport");
      assert.match(String((error.cause as Error).message), /NotValidForName|certificate/i);
      return true;
    },
  );
  assert.equal(await good.root!.emitWithAck("double", 5), 10);
});
