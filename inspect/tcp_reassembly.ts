/**
 * Reassembles TCP payload streams from captured link-layer frames, such as the packets of a
 * `tshark -x` dump.
 *
 * @module
 */

/** A piece of a stream's payload and the captured packet it came from. */
export interface TcpSegmentData {
  /** 0-based index of the captured packet. */
  packet: number;
  /** The payload bytes this packet adds to the stream (a view into the packet). */
  data: Uint8Array;
  /** Whether bytes are missing from the capture just before this segment. */
  gapBefore: boolean;
}

/** The payload of one direction of one TCP connection. */
export interface TcpStream {
  /** Sender, e.g. `"127.0.0.1:40122"` or `"[::1]:40122"`. */
  src: string;
  /** Receiver, formatted like {@linkcode TcpStream.src}. */
  dst: string;
  /** Payload in sequence order, with retransmissions and overlaps removed. */
  segments: TcpSegmentData[];
  /** Whether the stream's SYN was captured, so that the payload starts at its beginning. */
  sawSyn: boolean;
  /** Holes in the sequence space (lost bytes), including a missing start or end. */
  gaps: number;
}

/** Why a captured packet gave no TCP segment. */
export interface TcpSkipNote {
  /** 0-based index of the captured packet. */
  packet: number;
  /** Human-readable reason, e.g. `"not TCP (IPv4 protocol 17)"`. */
  reason: string;
}

/** What {@linkcode reassembleTcp} found in a capture. */
export interface TcpReassemblyResult {
  /** One stream per connection and direction, in order of first appearance. */
  streams: TcpStream[];
  /** How many packets were not TCP (or could not be read as TCP). */
  skipped: number;
  /** Why each skipped packet was skipped. */
  notes: TcpSkipNote[];
}

interface Segment {
  src: string;
  dst: string;
  seq: number;
  syn: boolean;
  fin: boolean;
  payload: Uint8Array;
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const PROTO_TCP = 6;
const IPV6_SKIPPABLE = new Set([0, 43, 60]); // hop-by-hop, routing, destination options
const IPV6_FRAGMENT = 44;

function u16(b: Uint8Array, at: number): number {
  return at + 2 <= b.length ? ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0) : -1;
}

function u32(b: Uint8Array, at: number): number {
  return ((u16(b, at) << 16) | u16(b, at + 2)) >>> 0;
}

// Whether an IP header of the version named by `ethertype` plausibly starts at `at`.
function ipAt(b: Uint8Array, at: number, ethertype: number): boolean {
  const first = b[at] ?? 0;
  if (ethertype === ETHERTYPE_IPV4) {
    return first >> 4 === 4 && (first & 0xf) >= 5 && b.length >= at + 20;
  }
  if (ethertype === ETHERTYPE_IPV6) return first >> 4 === 6 && b.length >= at + 40;
  return false;
}

// Finds the IP header behind whatever link layer the frame has; tshark -x does not say which
// one, so it is recognised by its ethertype / version fields.
function findIpHeader(b: Uint8Array): number | undefined {
  // Ethernet II (also Linux `lo`, with zero MACs), with at most one 802.1Q tag.
  const tagged = u16(b, 12) === ETHERTYPE_VLAN;
  const etherIp = tagged ? 18 : 14;
  if (ipAt(b, etherIp, u16(b, etherIp - 2))) return etherIp;
  // Linux cooked SLL2: protocol first, then two reserved zero bytes; 20 bytes.
  if (u16(b, 2) === 0 && ipAt(b, 20, u16(b, 0))) return 20;
  // Linux cooked SLL: packet type (0-4), ..., protocol at 14; 16 bytes.
  if (u16(b, 0) <= 4 && ipAt(b, 16, u16(b, 14))) return 16;
  // Raw IP.
  if (ipAt(b, 0, ETHERTYPE_IPV4) || ipAt(b, 0, ETHERTYPE_IPV6)) return 0;
  return undefined;
}

function formatIpv6(b: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => u16(b, i * 2));
  // RFC 5952: "::" replaces the first longest run of two or more zero groups.
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; i++) {
    let n = 0;
    while (groups[i + n] === 0) n++;
    if (n > bestLength) [best, bestLength] = [i, n];
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLength))}`;
}

// Reads one frame down to its TCP segment, or says why it has none.
function parseFrame(frame: Uint8Array): Segment | string {
  const ip = findIpHeader(frame);
  if (ip === undefined) return "no IPv4/IPv6 header found (unknown link layer or not IP)";
  let src: string;
  let dst: string;
  let tcp: Uint8Array;
  if ((frame[ip] ?? 0) >> 4 === 4) {
    const headerLength = ((frame[ip] ?? 0) & 0xf) * 4;
    const total = u16(frame, ip + 2);
    if (total < headerLength) return "bad IPv4 total length";
    // Flags MF or a fragment offset: the TCP header may not even be in this piece.
    if ((u16(frame, ip + 6) & 0x3fff) !== 0) return "IPv4 fragment (not reassembled)";
    const protocol = frame[ip + 9];
    if (protocol !== PROTO_TCP) return `not TCP (IPv4 protocol ${protocol})`;
    src = frame.subarray(ip + 12, ip + 16).join(".");
    dst = frame.subarray(ip + 16, ip + 20).join(".");
    // The total length, not the captured length, ends the packet: Ethernet pads short frames.
    tcp = frame.subarray(ip + headerLength, ip + total);
  } else {
    const end = ip + 40 + u16(frame, ip + 4);
    let next = frame[ip + 6] ?? 0;
    let at = ip + 40;
    while (IPV6_SKIPPABLE.has(next)) {
      if (at + 2 > Math.min(end, frame.length)) return "truncated IPv6 extension header";
      next = frame[at] ?? 0;
      at += ((frame[at + 1] ?? 0) + 1) * 8;
    }
    if (next === IPV6_FRAGMENT) return "IPv6 fragment (not reassembled)";
    if (next !== PROTO_TCP) return `not TCP (IPv6 next header ${next})`;
    src = `[${formatIpv6(frame.subarray(ip + 8, ip + 24))}]`;
    dst = `[${formatIpv6(frame.subarray(ip + 24, ip + 40))}]`;
    tcp = frame.subarray(at, end);
  }
  if (tcp.length < 20) return "truncated TCP header";
  const dataOffset = ((tcp[12] ?? 0) >> 4) * 4;
  if (dataOffset < 20 || dataOffset > tcp.length) return "bad TCP data offset";
  const flags = tcp[13] ?? 0;
  return {
    src: `${src}:${u16(tcp, 0)}`,
    dst: `${dst}:${u16(tcp, 2)}`,
    seq: u32(tcp, 4),
    syn: (flags & 0x02) !== 0,
    fin: (flags & 0x01) !== 0,
    // A frame cut short by the snap length keeps what was captured; the rest shows as a gap.
    payload: tcp.subarray(dataOffset),
  };
}

interface Piece {
  at: number;
  packet: number;
  data: Uint8Array;
}

// Collects one direction of one connection; positions are signed 32-bit offsets from the first
// sequence number seen, which takes care of wraparound.
class StreamBuilder {
  readonly src: string;
  readonly dst: string;
  #base: number | undefined;
  #isn: number | undefined;
  #start: number | undefined; // position of the first payload byte, known from the SYN
  #end: number | undefined; // position of the FIN
  #pieces: Piece[] = [];

  constructor(src: string, dst: string) {
    this.src = src;
    this.dst = dst;
  }

  /** Whether `segment` is the SYN of a later connection reusing the same addresses. */
  isNewConnection(segment: Segment): boolean {
    return segment.syn && this.#isn !== undefined && this.#isn !== segment.seq;
  }

  add(segment: Segment, packet: number): void {
    // The SYN takes up one sequence number before the payload.
    const dataSeq = (segment.seq + (segment.syn ? 1 : 0)) >>> 0;
    this.#base ??= dataSeq;
    const at = (dataSeq - this.#base) | 0;
    if (segment.syn) {
      this.#isn = segment.seq;
      this.#start = at;
    }
    if (segment.payload.length > 0) this.#pieces.push({ at, packet, data: segment.payload });
    if (segment.fin) this.#end = at + segment.payload.length;
  }

  build(): TcpStream {
    // Longest first at equal positions, so that shorter retransmissions are dropped whole.
    const pieces = this.#pieces.toSorted((a, b) =>
      a.at - b.at || b.data.length - a.data.length || a.packet - b.packet
    );
    const segments: TcpSegmentData[] = [];
    let gaps = 0;
    let next = this.#start ?? pieces[0]?.at;
    for (const { at, packet, data } of pieces) {
      next ??= at;
      const end = at + data.length;
      if (end <= next) continue; // retransmitted
      const gapBefore = at > next;
      if (gapBefore) gaps++;
      segments.push({ packet, data: data.subarray(Math.max(0, next - at)), gapBefore });
      next = end;
    }
    if (this.#end !== undefined && next !== undefined && this.#end > next) gaps++;
    return { src: this.src, dst: this.dst, segments, sawSyn: this.#isn !== undefined, gaps };
  }
}

/**
 * Reassembles the TCP payload of each connection and direction from captured frames.
 *
 * Frames may be Ethernet II (optionally with one 802.1Q tag; Linux `lo` captures use
 * Ethernet with zero MACs), Linux cooked SLL or SLL2, or raw IP, carrying IPv4 or IPv6.
 * Segments are put in sequence order; duplicates are dropped, partial overlaps trimmed and
 * holes counted. IP fragments and non-TCP packets are skipped.
 *
 * @param packets The captured frames, e.g. from `parseTsharkDump`.
 * @returns The streams in order of first appearance, and what was skipped.
 *
 * @example
 * ```ts ignore
 * import { parseTsharkDump, reassembleTcp } from "@game-socket/game-socket/inspect";
 *
 * const dump = await Deno.readTextFile("capture.txt"); // from `tshark -r capture.pcap -x`
 * const { streams } = reassembleTcp(parseTsharkDump(dump));
 * for (const stream of streams) {
 *   const bytes = stream.segments.reduce((n, s) => n + s.data.length, 0);
 *   console.log(`${stream.src} -> ${stream.dst}: ${bytes} bytes, ${stream.gaps} gaps`);
 * }
 * ```
 */
export function reassembleTcp(packets: readonly Uint8Array[]): TcpReassemblyResult {
  const builders: StreamBuilder[] = [];
  const current = new Map<string, StreamBuilder>();
  const notes: TcpSkipNote[] = [];
  packets.forEach((frame, packet) => {
    const segment = parseFrame(frame);
    if (typeof segment === "string") {
      notes.push({ packet, reason: segment });
      return;
    }
    const key = `${segment.src} ${segment.dst}`;
    let builder = current.get(key);
    if (builder === undefined || builder.isNewConnection(segment)) {
      builder = new StreamBuilder(segment.src, segment.dst);
      builders.push(builder);
      current.set(key, builder);
    }
    builder.add(segment, packet);
  });
  return { streams: builders.map((b) => b.build()), skipped: notes.length, notes };
}
