/**
 * What the room tests check again and again: that a room's members still hear their room after
 * something was refused or changed.
 */

import assert from "node:assert/strict";
import type { ClientSocket, EventInfo } from "../client.ts";
import type { Namespace } from "../server.ts";
import { connectClient, type TestClient, type TestServer } from "./harness.ts";
import { eventOf, home } from "./within.ts";

/**
 * Asserts that one broadcast to `room` reaches each of `members`, as an event of that room.
 *
 * @param nsp The namespace.
 * @param room The room.
 * @param members Sockets that should hear it.
 */
export async function assertRoomHears(
  nsp: Namespace,
  room: string,
  members: readonly ClientSocket[],
): Promise<void> {
  const heard = members.map((member) => eventOf<[string, EventInfo]>(member, "news"));
  assert.ok(nsp.to(room).emit("news", room).sent >= members.length);
  for (const [data, info] of await Promise.all(heard)) {
    assert.equal(data, room);
    assert.equal(info.room, room);
  }
}

/**
 * Connects two clients, each with its socket of `/home`; disposing of the pair closes them.
 *
 * @param test The server.
 * @returns The two sockets of `/home`.
 */
export async function homePair(
  test: TestServer,
): Promise<[ClientSocket, ClientSocket] & AsyncDisposable> {
  const clients: TestClient[] = [await connectClient(test.port), await connectClient(test.port)];
  const pair: [ClientSocket, ClientSocket] = [await home(clients[0]!), await home(clients[1]!)];
  return Object.assign(pair, {
    async [Symbol.asyncDispose]() {
      for (const client of clients) await client.close();
    },
  });
}
