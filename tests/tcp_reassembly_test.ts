import assert from "node:assert/strict";
import { parseHexInput } from "../inspect/hex_input.ts";
import { reassembleTcp, type TcpStream } from "../inspect/tcp_reassembly.ts";
import { CLIENT_WRITES, SERVER_WRITES } from "./fixtures/loopback_messages.ts";

// --- A small packet writer: TCP inside IPv4/IPv6 inside Ethernet, SLL, SLL2 or nothing. ---

const ascii = (s: string) => new TextEncoder().encode(s);
const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

function u16be(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}

function u32be(n: number): number[] {
  return [...u16be(n >>> 16), ...u16be(n & 0xffff)];
}

function ipv4Address(a: string): number[] {
  return a.split(".").map(Number);
}

function ipv6Address(a: string): number[] {
  const [head = "", tail] = a.split("::");
  const groups = (s: string | undefined) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const left = groups(head);
  const right = groups(tail);
  const all = [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
  return all.flatMap(u16be);
}

interface Tcp {
  src: string;
  dst: string;
  seq: number;
  syn?: boolean;
  fin?: boolean;
  data?: Uint8Array | string;
  /** Bytes of TCP options (a multiple of 4), to test the data offset. */
  options?: number;
}

function tcp(t: Tcp): Uint8Array {
  const port = (address: string) => Number(address.slice(address.lastIndexOf(":") + 1));
  const options = t.options ?? 0;
  const flags = 0x10 | (t.syn ? 0x02 : 0) | (t.fin ? 0x01 : 0); // ACK set, as usual
  const header = [
    ...u16be(port(t.src)),
    ...u16be(port(t.dst)),
    ...u32be(t.seq),
    ...u32be(0),
    ((20 + options) / 4) << 4,
    flags,
    ...u16be(65535),
    0,
    0,
    0,
    0,
    ...Array(options).fill(1), // NOPs
  ];
  const data = typeof t.data === "string" ? ascii(t.data) : t.data ?? new Uint8Array();
  return concat(Uint8Array.from(header), data);
}

function host(address: string): string {
  return address.startsWith("[")
    ? address.slice(1, address.indexOf("]"))
    : address.slice(0, address.lastIndexOf(":"));
}

interface Ipv4Options {
  protocol?: number;
  /** The flags and fragment offset field. */
  fragment?: number;
  /** Bytes of IP options (a multiple of 4), to test the IHL. */
  options?: number;
}

function ipv4(t: Tcp, o: Ipv4Options = {}): Uint8Array {
  const body = tcp(t);
  const headerLength = 20 + (o.options ?? 0);
  const header = [
    0x40 | (headerLength / 4),
    0,
    ...u16be(headerLength + body.length),
    0,
    0,
    ...u16be(o.fragment ?? 0x4000), // DF
    64,
    o.protocol ?? 6,
    0,
    0, // checksum, not checked
    ...ipv4Address(host(t.src)),
    ...ipv4Address(host(t.dst)),
    ...Array(o.options ?? 0).fill(1),
  ];
  return concat(Uint8Array.from(header), body);
}

function ipv6(t: Tcp, o: { nextHeader?: number; hopByHop?: boolean } = {}): Uint8Array {
  let body = tcp(t);
  let nextHeader = o.nextHeader ?? 6;
  if (o.hopByHop) {
    // 8 bytes: next header, length 0 (in 8-byte units after the first 8), PadN.
    body = concat(Uint8Array.from([nextHeader, 0, 1, 4, 0, 0, 0, 0]), body);
    nextHeader = 0;
  }
  const header = [
    0x60,
    0,
    0,
    0,
    ...u16be(body.length),
    nextHeader,
    64,
    ...ipv6Address(host(t.src)),
    ...ipv6Address(host(t.dst)),
  ];
  return concat(Uint8Array.from(header), body);
}

const ethertypeOf = (ip: Uint8Array) => (ip[0]! >> 4 === 6 ? 0x86dd : 0x0800);

function ethernet(ip: Uint8Array, o: { vlan?: number; minimumFrame?: boolean } = {}): Uint8Array {
  const macs = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
  const tag = o.vlan === undefined ? [] : [0x81, 0x00, ...u16be(o.vlan)];
  const frame = concat(Uint8Array.from([...macs, ...tag, ...u16be(ethertypeOf(ip))]), ip);
  // Ethernet pads frames to 60 bytes (without FCS).
  return o.minimumFrame && frame.length < 60
    ? concat(frame, new Uint8Array(60 - frame.length))
    : frame;
}

function sll(ip: Uint8Array): Uint8Array {
  // Packet type 0 (to us), ARPHRD_ETHER, address length 6, address padded to 8, protocol.
  const header = [0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, ...u16be(ethertypeOf(ip))];
  return concat(Uint8Array.from(header), ip);
}

function sll2(ip: Uint8Array): Uint8Array {
  // Protocol, reserved, interface index, ARPHRD_ETHER, packet type, address length, address.
  const header = [...u16be(ethertypeOf(ip)), 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
  return concat(Uint8Array.from(header), ip);
}

const eth4 = (t: Tcp) => ethernet(ipv4(t));

function payload(stream: TcpStream | undefined): string {
  assert.ok(stream !== undefined, "missing stream");
  return new TextDecoder().decode(concat(...stream.segments.map((s) => s.data)));
}

const C = "10.0.0.1:40122";
const S = "10.0.0.2:7777";

// --- Tests ---

Deno.test("reassembleTcp splits a connection into one stream per direction", () => {
  const { streams, skipped } = reassembleTcp([
    eth4({ src: C, dst: S, seq: 1000, syn: true }),
    eth4({ src: S, dst: C, seq: 5000, syn: true }),
    eth4({ src: C, dst: S, seq: 1001 }),
    eth4({ src: C, dst: S, seq: 1001, data: "hello " }),
    eth4({ src: S, dst: C, seq: 5001, data: "welcome" }),
    eth4({ src: C, dst: S, seq: 1007, data: "world", fin: true }),
    eth4({ src: S, dst: C, seq: 5008, fin: true }),
  ]);
  assert.equal(skipped, 0);
  assert.deepEqual(
    streams.map((s) => [s.src, s.dst, payload(s), s.sawSyn, s.gaps]),
    [
      [C, S, "hello world", true, 0],
      [S, C, "welcome", true, 0],
    ],
  );
  assert.deepEqual(streams[0]?.segments.map((s) => s.packet), [3, 5]);
});

Deno.test("reassembleTcp puts out-of-order segments in sequence order", () => {
  const { streams } = reassembleTcp([
    eth4({ src: C, dst: S, seq: 100, syn: true }),
    eth4({ src: C, dst: S, seq: 107, data: "cd" }),
    eth4({ src: C, dst: S, seq: 101, data: "ab" }),
    eth4({ src: C, dst: S, seq: 103, data: "----" }),
  ]);
  assert.equal(payload(streams[0]), "ab----cd");
  assert.deepEqual(streams[0]?.segments.map((s) => s.packet), [2, 3, 1]);
  assert.equal(streams[0]?.gaps, 0);
});

Deno.test("reassembleTcp drops retransmitted segments", () => {
  const { streams } = reassembleTcp([
    eth4({ src: C, dst: S, seq: 100, data: "abc" }),
    eth4({ src: C, dst: S, seq: 103, data: "def" }),
    eth4({ src: C, dst: S, seq: 100, data: "abc" }),
    eth4({ src: C, dst: S, seq: 103, data: "de" }), // shorter retransmission
  ]);
  assert.equal(payload(streams[0]), "abcdef");
  assert.deepEqual(streams[0]?.segments.map((s) => s.packet), [0, 1]);
});

Deno.test("reassembleTcp trims partially overlapping segments", () => {
  const { streams } = reassembleTcp([
    eth4({ src: C, dst: S, seq: 100, data: "abcd" }),
    eth4({ src: C, dst: S, seq: 102, data: "cdef" }), // repacketized retransmission
    eth4({ src: C, dst: S, seq: 100, data: "abcdefgh" }),
  ]);
  assert.equal(payload(streams[0]), "abcdefgh");
  assert.deepEqual(
    streams[0]?.segments.map((s) => [s.packet, new TextDecoder().decode(s.data)]),
    [[2, "abcdefgh"]],
  );
  const trimmed = reassembleTcp([
    eth4({ src: C, dst: S, seq: 100, data: "abcd" }),
    eth4({ src: C, dst: S, seq: 102, data: "cdef" }),
  ]);
  assert.deepEqual(
    trimmed.streams[0]?.segments.map((s) => [s.packet, new TextDecoder().decode(s.data)]),
    [[0, "abcd"], [1, "ef"]],
  );
});

Deno.test("reassembleTcp follows sequence numbers across 32-bit wraparound", () => {
  const isn = 0xfffffffa;
  const { streams } = reassembleTcp([
    eth4({ src: C, dst: S, seq: isn, syn: true }),
    eth4({ src: C, dst: S, seq: 0x00000001, data: "6789" }), // after the wrap, first
    eth4({ src: C, dst: S, seq: isn + 1, data: "012345" }), // "5" is at seq 0
    eth4({ src: C, dst: S, seq: 0xffffffff, data: "45678" }), // overlap across the wrap
  ]);
  assert.equal(payload(streams[0]), "0123456789");
  assert.equal(streams[0]?.gaps, 0);
});

Deno.test("reassembleTcp counts holes in the sequence space", () => {
  const { streams } = reassembleTcp([
    eth4({ src: C, dst: S, seq: 100, syn: true }),
    eth4({ src: C, dst: S, seq: 103, data: "cd" }), // "ab" lost: gap at the start
    eth4({ src: C, dst: S, seq: 107, data: "gh" }), // "ef" lost
    eth4({ src: C, dst: S, seq: 109, data: "ij" }),
    eth4({ src: C, dst: S, seq: 115, fin: true }), // "klmn" lost before the FIN
  ]);
  assert.equal(payload(streams[0]), "cdghij");
  assert.equal(streams[0]?.gaps, 3);
  // Each segment that follows a hole says so, so that a decoder can resynchronise there.
  assert.deepEqual(streams[0]?.segments.map((s) => s.gapBefore), [true, true, false]);
});

Deno.test("reassembleTcp starts a stream without SYN at its lowest sequence number", () => {
  const { streams } = reassembleTcp([
    eth4({ src: C, dst: S, seq: 5004, data: "def" }),
    eth4({ src: C, dst: S, seq: 5001, data: "abc" }),
  ]);
  assert.equal(payload(streams[0]), "abcdef");
  assert.equal(streams[0]?.sawSyn, false);
  assert.equal(streams[0]?.gaps, 0);
});

Deno.test("reassembleTcp keeps streams of pure ACKs, with no segments", () => {
  const { streams } = reassembleTcp([
    eth4({ src: C, dst: S, seq: 1, data: "ping" }),
    eth4({ src: S, dst: C, seq: 9 }),
    eth4({ src: S, dst: C, seq: 9 }),
  ]);
  assert.equal(streams.length, 2);
  assert.deepEqual(streams[1]?.segments, []);
  assert.equal(streams[1]?.gaps, 0);
});

Deno.test("reassembleTcp formats IPv6 addresses in brackets, compressed", () => {
  const client = "[::1]:40122";
  const server = "[2001:db8:0:0:1:0:0:1]:7777";
  const { streams, skipped } = reassembleTcp([
    ethernet(ipv6({ src: client, dst: server, seq: 7, syn: true })),
    ethernet(ipv6({ src: client, dst: server, seq: 8, data: "v6" })),
    ethernet(ipv6({ src: server, dst: client, seq: 1, data: "ok" })),
  ]);
  assert.equal(skipped, 0);
  assert.equal(streams[0]?.src, "[::1]:40122");
  assert.equal(streams[0]?.dst, "[2001:db8::1:0:0:1]:7777");
  assert.equal(payload(streams[0]), "v6");
  assert.equal(payload(streams[1]), "ok");
});

Deno.test("reassembleTcp skips IPv6 hop-by-hop options before TCP", () => {
  const t = { src: "[fe80::1]:1000", dst: "[fe80::2]:2000", seq: 1, data: "hop" };
  const { streams, skipped } = reassembleTcp([ethernet(ipv6(t, { hopByHop: true }))]);
  assert.equal(skipped, 0);
  assert.equal(payload(streams[0]), "hop");
});

Deno.test("reassembleTcp reads Ethernet, 802.1Q, SLL, SLL2 and raw IP frames alike", () => {
  const first = { src: C, dst: S, seq: 1, data: "one " };
  const second = { src: C, dst: S, seq: 5, data: "two" };
  const v6first = { src: "[::1]:1", dst: "[::1]:2", seq: 1, data: "one " };
  const v6second = { src: "[::1]:1", dst: "[::1]:2", seq: 5, data: "two" };
  const framings: [string, (ip: Uint8Array) => Uint8Array][] = [
    ["ethernet", (ip) => ethernet(ip)],
    ["vlan", (ip) => ethernet(ip, { vlan: 42 })],
    ["sll", sll],
    ["sll2", sll2],
    ["raw", (ip) => ip],
  ];
  for (const [name, frame] of framings) {
    for (const [a, b] of [[ipv4(first), ipv4(second)], [ipv6(v6first), ipv6(v6second)]]) {
      const { streams, skipped } = reassembleTcp([frame(a!), frame(b!)]);
      assert.equal(skipped, 0, name);
      assert.equal(streams.length, 1, name);
      assert.equal(payload(streams[0]), "one two", name);
    }
  }
});

Deno.test("reassembleTcp takes the payload length from IP, not from a padded frame", () => {
  const frame = ethernet(ipv4({ src: C, dst: S, seq: 1, data: "x" }), { minimumFrame: true });
  assert.equal(frame.length, 60);
  const { streams } = reassembleTcp([frame]);
  assert.equal(payload(streams[0]), "x");
});

Deno.test("reassembleTcp honours IP header length and TCP data offset", () => {
  const frame = ethernet(
    ipv4({ src: C, dst: S, seq: 1, data: "opts", options: 12 }, { options: 8 }),
  );
  const { streams } = reassembleTcp([frame]);
  assert.equal(payload(streams[0]), "opts");
});

Deno.test("reassembleTcp skips non-TCP packets and IP fragments with a reason", () => {
  const arp = Uint8Array.from([...Array(12).fill(0xff), 0x08, 0x06, ...Array(28).fill(0)]);
  const { streams, skipped, notes } = reassembleTcp([
    eth4({ src: C, dst: S, seq: 1, data: "a" }),
    ethernet(ipv4({ src: C, dst: S, seq: 0 }, { protocol: 17 })),
    arp,
    ethernet(ipv4({ src: C, dst: S, seq: 2, data: "b" }, { fragment: 0x2000 })), // MF
    ethernet(ipv4({ src: C, dst: S, seq: 2, data: "b" }, { fragment: 0x0010 })), // offset
    ethernet(ipv6({ src: "[::1]:1", dst: "[::1]:2", seq: 0 }, { nextHeader: 17 })),
  ]);
  assert.equal(streams.length, 1);
  assert.equal(skipped, 5);
  assert.deepEqual(notes, [
    { packet: 1, reason: "not TCP (IPv4 protocol 17)" },
    { packet: 2, reason: "no IPv4/IPv6 header found (unknown link layer or not IP)" },
    { packet: 3, reason: "IPv4 fragment (not reassembled)" },
    { packet: 4, reason: "IPv4 fragment (not reassembled)" },
    { packet: 5, reason: "not TCP (IPv6 next header 17)" },
  ]);
});

Deno.test("reassembleTcp separates interleaved connections in order of first appearance", () => {
  const A = "127.0.0.1:50001";
  const B = "127.0.0.1:50002";
  const srv = "127.0.0.1:9000";
  const { streams } = reassembleTcp([
    eth4({ src: B, dst: srv, seq: 10, data: "B1 " }),
    eth4({ src: A, dst: srv, seq: 70, data: "A1 " }),
    eth4({ src: srv, dst: A, seq: 300, data: "to A" }),
    eth4({ src: B, dst: srv, seq: 13, data: "B2" }),
    eth4({ src: A, dst: srv, seq: 73, data: "A2" }),
  ]);
  assert.deepEqual(
    streams.map((s) => [s.src, s.dst, payload(s)]),
    [
      [B, srv, "B1 B2"],
      [A, srv, "A1 A2"],
      [srv, A, "to A"],
    ],
  );
});

Deno.test("reassembleTcp starts a new stream when a new SYN reuses the addresses", () => {
  const { streams } = reassembleTcp([
    eth4({ src: C, dst: S, seq: 100, syn: true }),
    eth4({ src: C, dst: S, seq: 101, data: "first" }),
    eth4({ src: C, dst: S, seq: 100, syn: true }), // retransmitted SYN: same connection
    eth4({ src: C, dst: S, seq: 9000, syn: true }),
    eth4({ src: C, dst: S, seq: 9001, data: "second" }),
  ]);
  assert.deepEqual(streams.map((s) => payload(s)), ["first", "second"]);
});

Deno.test("reassembleTcp recovers the known bytes from a real loopback capture", async () => {
  const text = await Deno.readTextFile(
    new URL("./fixtures/loopback_sample.tshark.txt", import.meta.url),
  );
  const { format, packets } = parseHexInput(text);
  assert.equal(format, "tshark");
  const { streams, skipped } = reassembleTcp(packets);
  assert.equal(skipped, 0);
  assert.equal(streams.length, 2);
  const [toServer, toClient] = streams;
  assert.ok(toServer !== undefined && toClient !== undefined);
  assert.equal(toServer.src, toClient.dst);
  assert.equal(toServer.dst, toClient.src);
  assert.match(toServer.src, /^127\.0\.0\.1:\d+$/);
  for (const [stream, writes] of [[toServer, CLIENT_WRITES], [toClient, SERVER_WRITES]] as const) {
    assert.equal(stream.sawSyn, true);
    assert.equal(stream.gaps, 0);
    assert.deepEqual(concat(...stream.segments.map((s) => s.data)), concat(...writes));
    // Each write went out as its own segment (TCP_NODELAY, one request/response at a time).
    assert.deepEqual(stream.segments.map((s) => s.data), writes);
  }
});
