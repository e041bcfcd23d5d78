/**
 * The cutting TCP relay that the reconnection tests run through: it forwards bytes unchanged
 * until a connection's seeded budget, cuts mid-chunk exactly there, and releases everything.
 */

import assert from "node:assert/strict";
import { CuttingTcpRelay } from "./fixtures/cutting_tcp_relay.ts";
import { within } from "./within.ts";

/** A TCP server on 127.0.0.1 that keeps every byte of each connection until it ends. */
function sink() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: Promise<Uint8Array>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      connections.push((async () => {
        const parts: number[] = [];
        const buffer = new Uint8Array(4096);
        try {
          for (let n; (n = await conn.read(buffer)) !== null;) parts.push(...buffer.subarray(0, n));
        } catch {
          // Reset: what arrived is what counts.
        }
        conn.close();
        return new Uint8Array(parts);
      })());
    }
  })();
  return {
    port: listener.addr.port,
    connections,
    async close() {
      listener.close();
      await accepting;
    },
  };
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  try {
    for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
  } catch {
    // Cut.
  }
}

Deno.test("The cutting relay forwards a prefix exactly as long as the budget, then cuts both sides", async () => {
  const target = sink();
  const relay = CuttingTcpRelay.start({
    targetPort: target.port,
    seed: 1,
    cutAfter: { min: 1000, max: 1000 },
  });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: relay.port });
    const bytes = Uint8Array.from({ length: 5000 }, (_, i) => i % 251);
    await writeAll(conn, bytes);
    await within(relay.cutCount(1), "the cut");
    // The client sees its connection end.
    const end = await conn.read(new Uint8Array(16)).catch(() => null);
    assert.equal(end, null);
    conn.close();
    const received = await within(target.connections[0]!, "the target's bytes");
    assert.deepEqual(received, bytes.subarray(0, 1000));
    assert.equal(relay.forwarded, 1000);
    await within(relay.idle(), "the relay's connections to end");
  } finally {
    await relay.close();
    await target.close();
  }
});

Deno.test("The same seed gives the same budgets, cutAll cuts what is open, close releases all", async () => {
  const target = sink();
  const lengths: number[][] = [];
  try {
    for (let run = 0; run < 2; run++) {
      const relay = CuttingTcpRelay.start({
        targetPort: target.port,
        seed: 99,
        cutAfter: { min: 10, max: 500 },
      });
      const before = target.connections.length;
      for (let i = 0; i < 5; i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: relay.port });
        await writeAll(conn, new Uint8Array(600));
        await within(relay.cutCount(i + 1), "a cut");
        conn.close();
      }
      lengths.push(
        await Promise.all(
          target.connections.slice(before).map((c) => c.then((bytes) => bytes.length)),
        ),
      );
      const open = await Deno.connect({ hostname: "127.0.0.1", port: relay.port });
      await writeAll(open, new Uint8Array(5));
      await within(relay.acceptedCount(6), "the sixth connection");
      relay.cutAll();
      assert.equal(await open.read(new Uint8Array(8)).catch(() => null), null);
      open.close();
      await relay.close();
    }
    assert.deepEqual(lengths[0], lengths[1]);
    assert.ok(lengths[0]!.every((n) => n >= 10 && n <= 500), String(lengths[0]));
    assert.ok(new Set(lengths[0]).size > 1, "budgets vary");
  } finally {
    await target.close();
    await Promise.all(target.connections);
  }
});
