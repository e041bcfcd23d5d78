/**
 * The UDP socket under the channel: a bound on the bytes in flight (node:dgram never refuses a
 * send, so an overloaded sender would queue without end), and datagrams larger than the expected
 * size still arriving whole (so the receiver can tell them oversized).
 */

import assert from "node:assert/strict";
import { UdpSocket } from "../transport/udp_socket.ts";
import { within } from "./within.ts";

/** A socket on 127.0.0.1 that keeps what it receives and resolves when `count` have come. */
async function receiver() {
  const received: Uint8Array[] = [];
  let waiting: { count: number; resolve: () => void } | undefined;
  const socket = await UdpSocket.bind(
    { hostname: "127.0.0.1", port: 0, maxDatagramSize: 100 },
    (datagram) => {
      received.push(datagram.slice());
      if (waiting !== undefined && received.length >= waiting.count) waiting.resolve();
    },
  );
  const count = (n: number) =>
    within(
      received.length >= n ? Promise.resolve() : new Promise<void>((resolve) => {
        waiting = { count: n, resolve };
      }),
      `${n} datagrams`,
    );
  return { socket, received, count };
}

Deno.test("A UDP socket drops and counts sends past its bound on bytes in flight, then sends again", async () => {
  const rx = await receiver();
  const tx = await UdpSocket.bind(
    { hostname: "127.0.0.1", port: 0, sendQueueLimit: 10_000 },
    () => {},
  );
  try {
    const sent = Array.from({ length: 50 }, () => tx.send(new Uint8Array(1000), rx.socket.address));
    assert.equal(sent.filter(Boolean).length, 10);
    assert.equal(tx.stats.overflowed, 40);
    assert.equal(tx.stats.sent, 10);
    assert.equal(tx.inFlight, 10_000);
    await within(tx.settled(), "the sends in flight");
    assert.equal(tx.inFlight, 0);
    await rx.count(10);
    assert.equal(tx.send(new Uint8Array(10), rx.socket.address), true);
    await rx.count(11);
  } finally {
    await tx.close();
    await rx.socket.close();
  }
});

Deno.test("A datagram larger than the receiver's expected size arrives whole", async () => {
  const rx = await receiver();
  const tx = await UdpSocket.bind({ hostname: "127.0.0.1", port: 0 }, () => {});
  try {
    tx.send(new Uint8Array(5000).fill(7), rx.socket.address);
    await rx.count(1);
    assert.equal(rx.received[0]!.length, 5000);
  } finally {
    await tx.close();
    await rx.socket.close();
  }
});
