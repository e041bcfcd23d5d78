/**
 * Memory of idle connections: RSS and heap before and after N clients connect to "/" of a
 * server in the same process (so each figure covers a connection pair: the client's side and the
 * server's). `deno task bench:idle [N]` (default 2000); figures go in docs/PERFORMANCE.md.
 */

import { GameSocketClient } from "../client.ts";
import { GameSocketServer } from "../server.ts";

const count = Number(Deno.args[0] ?? 2000);
// Every client connects from 127.0.0.1 (Deno.connect, as a client does by default), so the
// per-address limit must fit them all.
const server = new GameSocketServer({
  hostname: "127.0.0.1",
  port: 0,
  maxConnections: count + 10,
  maxConnectionsPerAddress: count + 10,
});
const { port } = await server.listen();

/** Lets pending work finish, then collects garbage when the process runs with --expose-gc. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 500));
  (globalThis as { gc?: () => void }).gc?.();
}

await settle();
const before = Deno.memoryUsage();
const clients: GameSocketClient[] = [];
for (let i = 0; i < count; i += 100) {
  const batch = Array.from({ length: Math.min(100, count - i) }, async () => {
    const client = new GameSocketClient();
    await client.connect("127.0.0.1", port);
    return client;
  });
  clients.push(...await Promise.all(batch));
}
await settle();
const after = Deno.memoryUsage();
const kb = (bytes: number) => (bytes / 1024 / count).toFixed(1);
console.log(
  JSON.stringify({
    connections: count,
    rss_kb_per_pair: Number(kb(after.rss - before.rss)),
    heap_kb_per_pair: Number(kb(after.heapUsed - before.heapUsed)),
    external_kb_per_pair: Number(kb(after.external - before.external)),
  }),
);
await Promise.all(clients.map((client) => client.close()));
await server.close();
