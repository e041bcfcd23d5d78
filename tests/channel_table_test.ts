import assert from "node:assert/strict";
import { ChannelTable } from "../protocol/mod.ts";

Deno.test("ChannelTable has the root namespace open on channel 0 from the start", () => {
  const channels = new ChannelTable();
  assert.equal(channels.name(0), "/");
  assert.equal(channels.id("/"), 0);
  assert.equal(channels.size, 1);
});

Deno.test("ChannelTable refuses ids outside 1..65535 with RangeError", () => {
  const channels = new ChannelTable();
  for (const id of [0, -1, 1.5, 65536, NaN]) {
    assert.throws(() => channels.open(id, "/x"), RangeError, String(id));
  }
  assert.equal(channels.size, 1);
});

Deno.test("ChannelTable refuses a channel or namespace that is already open", () => {
  const channels = new ChannelTable();
  channels.open(1, "/home");
  assert.throws(() => channels.open(1, "/other"), RangeError);
  assert.throws(() => channels.open(2, "/home"), RangeError);
  assert.throws(() => channels.open(2, "/"), RangeError);
  assert.equal(channels.name(1), "/home");
  assert.equal(channels.has(2), false);
});

Deno.test("ChannelTable frees a closed channel and never closes the root", () => {
  const channels = new ChannelTable();
  channels.open(1, "/home");
  channels.close(1);
  channels.close(0);
  channels.close(9); // not open: nothing happens
  assert.equal(channels.has(1), false);
  assert.equal(channels.id("/home"), undefined);
  assert.equal(channels.has(0), true);
  channels.open(1, "/arena");
  assert.equal(channels.name(1), "/arena");
});

Deno.test("ChannelTable.nextFreeId returns the lowest free id above 0", () => {
  const channels = new ChannelTable();
  assert.equal(channels.nextFreeId(), 1);
  channels.open(1, "/a");
  channels.open(2, "/b");
  channels.open(4, "/d");
  assert.equal(channels.nextFreeId(), 3);
  channels.close(1);
  assert.equal(channels.nextFreeId(), 1);
});

Deno.test("ChannelTable.nextFreeId throws RangeError when every id is in use", () => {
  const channels = new ChannelTable();
  for (let id = 1; id <= 65535; id++) channels.open(id, `/${id}`);
  assert.throws(() => channels.nextFreeId(), RangeError);
});
