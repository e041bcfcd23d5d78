/** The parts session recovery will stand on: the replay buffer and the store of dropped sessions. */

import assert from "node:assert/strict";
import { ReplayBuffer } from "../session/replay_buffer.ts";
import {
  newRecoveryToken,
  RecoverableSessions,
  sameToken,
  tokenBytes,
  tokenText,
} from "../session/recoverable_sessions.ts";
import { Random } from "./prng.ts";

Deno.test("ReplayBuffer gives back exactly the frames after the peer's count, and drops what is confirmed", () => {
  const buffer = new ReplayBuffer({ maxFrames: 10, maxBytes: 1000 });
  const frames = Array.from({ length: 6 }, (_, i) => Uint8Array.of(i));
  for (const frame of frames) assert.equal(buffer.push(frame), true);
  assert.equal(buffer.sent, 6);
  assert.deepEqual(buffer.since(2), frames.slice(2));
  assert.equal(buffer.since(2)![0], frames[2], "the frames themselves, not copies");
  buffer.confirm(4);
  assert.equal(buffer.size, 2);
  assert.equal(buffer.bytes, 2);
  assert.deepEqual(buffer.since(4), frames.slice(4));
  assert.deepEqual(buffer.since(6), []);
  assert.equal(buffer.since(3), undefined, "frames confirmed already are gone");
  assert.equal(buffer.since(7), undefined, "a count above what was sent");
  buffer.confirm(2); // behind: ignored
  buffer.confirm(9); // ahead: ignored
  assert.equal(buffer.size, 2);
});

Deno.test("ReplayBuffer overflows past its limits and then cannot replay", () => {
  const byFrames = new ReplayBuffer({ maxFrames: 3, maxBytes: 1000 });
  for (let i = 0; i < 3; i++) assert.equal(byFrames.push(new Uint8Array(1)), true);
  assert.equal(byFrames.push(new Uint8Array(1)), false);
  assert.equal(byFrames.overflowed, true);
  assert.equal(byFrames.push(new Uint8Array(1)), false);
  assert.equal(byFrames.sent, 5);
  assert.equal(byFrames.since(5), undefined);
  const byBytes = new ReplayBuffer({ maxFrames: 100, maxBytes: 10 });
  assert.equal(byBytes.push(new Uint8Array(6)), true);
  byBytes.confirm(1);
  assert.equal(byBytes.push(new Uint8Array(10)), true, "room again once confirmed");
  assert.equal(byBytes.push(new Uint8Array(1)), false);
  assert.throws(() => new ReplayBuffer({ maxFrames: 0, maxBytes: 1 }), RangeError);
});

Deno.test("ReplayBuffer agrees with a model over a seeded random run", () => {
  const random = new Random(7);
  const buffer = new ReplayBuffer({ maxFrames: 1_000_000, maxBytes: 1 << 30 });
  const sent: Uint8Array[] = [];
  let confirmed = 0;
  for (let step = 0; step < 20_000; step++) {
    const roll = random.next();
    if (roll < 0.6) {
      const frame = Uint8Array.of(step & 0xff, step >> 8);
      sent.push(frame);
      buffer.push(frame);
    } else if (roll < 0.8) {
      confirmed = Math.min(sent.length, confirmed + Math.floor(random.next() * 20));
      buffer.confirm(confirmed);
    } else {
      const from = confirmed + Math.floor(random.next() * (sent.length - confirmed + 1));
      assert.deepEqual(buffer.since(from), sent.slice(from));
    }
    assert.equal(buffer.sent, sent.length);
    assert.equal(buffer.size, sent.length - confirmed);
  }
});

Deno.test("A recovery token works once, only for its session, and only within the window", () => {
  let now = 0;
  const sessions = new RecoverableSessions<string>(1000, () => now);
  const token = newRecoveryToken();
  assert.equal(tokenBytes(token).length, 32);
  assert.equal(tokenText(tokenBytes(token)), token);
  sessions.keep("a", "session a", token);
  sessions.keep("b", "session b", newRecoveryToken());
  assert.deepEqual(sessions.claim("a", tokenBytes(newRecoveryToken())), {
    ok: false,
    reason: "refused",
  });
  assert.deepEqual(
    sessions.claim("b", tokenBytes(token)),
    { ok: false, reason: "refused" },
    "another's token",
  );
  assert.deepEqual(sessions.claim("a", tokenBytes(token).subarray(0, 16)), {
    ok: false,
    reason: "refused",
  });
  assert.deepEqual(sessions.claim("a", tokenBytes(token)), { ok: true, session: "session a" });
  assert.deepEqual(
    sessions.claim("a", tokenBytes(token)),
    { ok: false, reason: "unknown" },
    "used once",
  );
  now = 1000;
  assert.deepEqual(sessions.expire(), ["session b"]);
  assert.equal(sessions.size, 0);
  sessions.keep("c", "session c", token);
  sessions.keep("d", "session d", token);
  now = 2500;
  assert.deepEqual(sessions.claim("c", tokenBytes(token)), { ok: false, reason: "expired" });
  assert.deepEqual(sessions.expire(), ["session c", "session d"], "expired ones are handed back");
  sessions.keep("e", "session e", token);
  sessions.forget("e");
  assert.deepEqual(sessions.claim("e", tokenBytes(token)), { ok: false, reason: "unknown" });
  sessions.keep("f", "session f", token);
  assert.deepEqual(sessions.drain(), ["session f"]);
  assert.equal(sessions.size, 0);
  assert.equal(sameToken(token, tokenBytes(token)), true);
  assert.equal(sameToken(token, new Uint8Array(32)), false);
});
