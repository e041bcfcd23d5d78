/**
 * The test-only lossy UDP relay that the UDP tests will run through: its faults follow its seed,
 * and what reaches the target is exactly what it says it sent.
 */

import assert from "node:assert/strict";
import dgram from "node:dgram";
import { LossyUdpRelay } from "./fixtures/lossy_udp_relay.ts";
import { within } from "./within.ts";

async function bound(): Promise<dgram.Socket> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  return socket;
}

function close(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

/** Sends `count` numbered datagrams through a relay and collects what reaches the target. */
async function run(
  options: { seed: number; loss?: number; duplicate?: number; reorder?: number; maxDelay?: number },
  count = 500,
) {
  const target = await bound();
  const client = await bound();
  const relay = await LossyUdpRelay.start({ targetPort: target.address().port, ...options });
  try {
    const received: number[] = [];
    let arrived: () => void = () => {};
    let wanted = Infinity;
    target.on("message", (message) => {
      received.push(new DataView(message.buffer, message.byteOffset).getUint32(0));
      if (received.length >= wanted) arrived();
    });
    for (let i = 0; i < count; i++) {
      const datagram = new Uint8Array(4);
      new DataView(datagram.buffer).setUint32(0, i);
      client.send(datagram, relay.port, "127.0.0.1");
      // One in flight at a time keeps the arrival order, and so the relay's decisions, fixed.
      await within(relay.received("toTarget", i + 1), "the relay's receipt");
    }
    relay.flush();
    await within(relay.idle(), "the delayed datagrams");
    const expected = relay.log.toTarget.sent.map((d) =>
      new DataView(d.buffer, d.byteOffset).getUint32(0)
    );
    wanted = expected.length;
    if (received.length < wanted) {
      await within(new Promise<void>((resolve) => arrived = resolve), "every datagram sent");
    }
    return { received, expected, log: relay.log.toTarget };
  } finally {
    await relay.close();
    await close(target);
    await close(client);
  }
}

Deno.test("The lossy relay delivers exactly what it logs as sent, and its faults follow its seed", async () => {
  const options = { seed: 7, loss: 0.2, duplicate: 0.05, reorder: 0.1 };
  const first = await run(options);
  assert.deepEqual(first.received, first.expected);
  assert.equal(first.log.received, 500);
  // 20% loss: between 15% and 25% of 500 with this seed; duplicates and reorders happened.
  assert.ok(first.log.dropped >= 75 && first.log.dropped <= 125, `${first.log.dropped} dropped`);
  assert.ok(first.log.duplicated > 0 && first.log.reordered > 0);
  assert.ok(
    first.received.some((n, i) => i > 0 && n < first.received[i - 1]!),
    "something reordered",
  );
  const again = await run(options);
  assert.deepEqual(again.expected, first.expected, "the same seed, the same faults");
});

Deno.test("The lossy relay delays datagrams when asked, and still delivers all it sent", async () => {
  const { received, expected } = await run({ seed: 11, maxDelay: 5 }, 100);
  assert.deepEqual([...received].sort((a, b) => a - b), [...expected].sort((a, b) => a - b));
  assert.equal(expected.length, 100);
});
