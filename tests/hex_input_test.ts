import assert from "node:assert/strict";
import {
  detectHexFormat,
  HexInputError,
  parseHexInput,
  parsePlainHex,
  parseTsharkDump,
  parseXxd,
} from "../inspect/hex_input.ts";

const bytes = (...values: number[]) => Uint8Array.from(values);
const ascii = (s: string) => new TextEncoder().encode(s);
const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

// printf 'hello world, cafe 12 ab!\n\x00\x01': its ASCII column has spaces and hex-looking text.
const SAMPLE = concat(ascii("hello world, cafe 12 ab!\n"), bytes(0, 1));

// Real `tshark -r capture.pcap -x` output (tshark 4.0.17), two packets.
const TSHARK_TWO_PACKETS = `0000  00 00 00 00 00 00 00 00 00 00 00 00 08 00 45 00   ..............E.
0010  00 3c 61 c3 40 00 40 06 da f6 7f 00 00 01 7f 00   .<a.@.@.........
0020  00 01 db ca 84 99 6b cc 09 67 00 00 00 00 a0 02   ......k..g......
0030  ff d7 fe 30 00 00 02 04 ff d7 04 02 08 0a ba 08   ...0............
0040  c0 d3 00 00 00 00 01 03 03 0a                     ..........

0000  00 00 00 00 00 00 00 00 00 00 00 00 08 00 45 00   ..............E.
0010  00 46 61 c5 40 00 40 06 da ea 7f 00 00 01 7f 00   .Fa.@.@.........
0020  00 01 db ca 84 99 6b cc 09 68 24 82 f2 74 80 18   ......k..h$..t..
0030  00 40 fe 3a 00 00 01 01 08 0a ba 08 c0 d4 6b a9   .@.:..........k.
0040  da 1e 48 45 4c 4c 4f 20 67 61 6d 65 2d 73 6f 63   ..HELLO game-soc
0050  6b 65 74 0a                                       ket.

`;

Deno.test("detectHexFormat recognises tshark, xxd and plain hex", () => {
  assert.equal(detectHexFormat(TSHARK_TWO_PACKETS), "tshark");
  assert.equal(
    detectHexFormat("00000000: 6865 6c6c 6f0a                           hello.\n"),
    "xxd",
  );
  assert.equal(detectHexFormat("00000000: 68 65 6c 6c 6f 0a  hello.\n"), "xxd");
  assert.equal(detectHexFormat("68 65 6c 6c 6f 0a\n"), "plain");
  assert.equal(detectHexFormat("0x68, 0x65\n"), "plain");
  assert.equal(detectHexFormat("de:ad:be:ef"), "plain");
  assert.equal(detectHexFormat(""), "plain");
});

Deno.test("detectHexFormat looks past tshark summary lines", () => {
  const text = "    1 0.000000000    127.0.0.1 → 127.0.0.1    TCP 74 [SYN]\n\n" +
    "0000  00 00 00 00 00 00 00 00 00 00 00 00 08 00 45 00   ..............E.\n";
  assert.equal(detectHexFormat(text), "tshark");
});

Deno.test("parsePlainHex pairs digits across whitespace and line breaks", () => {
  assert.deepEqual(parsePlainHex("7e 00\n2e00\r\n\t0 0 f\nf"), bytes(0x7e, 0, 0x2e, 0, 0, 0xff));
  assert.deepEqual(parsePlainHex("DeAdBeEf"), bytes(0xde, 0xad, 0xbe, 0xef));
  assert.deepEqual(parsePlainHex(""), bytes());
  assert.deepEqual(parsePlainHex("  \n "), bytes());
});

Deno.test("parsePlainHex accepts 0x prefixes and colon or comma separators", () => {
  assert.deepEqual(parsePlainHex("0x7e, 0x00,0X2E"), bytes(0x7e, 0, 0x2e));
  assert.deepEqual(parsePlainHex("de:ad:be:ef"), bytes(0xde, 0xad, 0xbe, 0xef));
  assert.deepEqual(parsePlainHex("0xdead 0xbeef"), bytes(0xde, 0xad, 0xbe, 0xef));
  assert.deepEqual(parsePlainHex("0x01,\n0x02,\n"), bytes(1, 2));
});

Deno.test("parsePlainHex reports a non-hex character with its line and column", () => {
  assert.throws(() => parsePlainHex("00 01\n02 0g"), HexInputError);
  try {
    parsePlainHex("00 01\n02 0g");
    assert.fail("expected an error");
  } catch (e) {
    assert.ok(e instanceof HexInputError);
    assert.equal(e.name, "HexInputError");
    assert.equal(e.message, 'Cannot parse hex: unexpected character "g" at line 2, column 5');
    assert.equal(e.line, 2);
    assert.equal(e.column, 5);
  }
});

Deno.test("parsePlainHex rejects an x that is not a 0x prefix", () => {
  assert.throws(() => parsePlainHex("00x1"), {
    name: "HexInputError",
    message: 'Cannot parse hex: unexpected character "x" at line 1, column 3',
  });
});

Deno.test("parsePlainHex rejects an odd number of digits at the unpaired digit", () => {
  assert.throws(() => parsePlainHex("00 01\n2"), HexInputError);
  assert.throws(() => parsePlainHex("00 01\n2"), {
    message: "Cannot parse hex: odd number of hex digits at line 2, column 1",
  });
});

Deno.test("parsePlainHex requires whole bytes in each 0x token", () => {
  assert.throws(() => parsePlainHex("0x1, 0x2"), {
    message: "Cannot parse hex: odd number of hex digits at line 1, column 3",
  });
  assert.throws(() => parsePlainHex("0x12, 0x"), {
    message: 'Cannot parse hex: no digits after "0x" at line 1, column 7',
  });
});

Deno.test("parseXxd reads the default layout and ignores a hex-looking ASCII column", () => {
  const dump = `00000000: 6865 6c6c 6f20 776f 726c 642c 2063 6166  hello world, caf
00000010: 6520 3132 2061 6221 0a00 01              e 12 ab!...
`;
  assert.deepEqual(parseXxd(dump), SAMPLE);
});

Deno.test("parseXxd stops at the two spaces before an ASCII column full of spaces", () => {
  // The first line ends in two spaces (part of the ASCII column).
  const dump = "00000000: 6361 6665 2031 3220 6162 2020 6465 2020  cafe 12 ab  de  \n" +
    "00000010: 3030 2066 66                             00 ff\n";
  assert.deepEqual(parseXxd(dump), ascii("cafe 12 ab  de  00 ff"));
});

Deno.test("parseXxd handles other group sizes and widths", () => {
  const g1c8 = `00000000: 68 65 6c 6c 6f 20 77 6f  hello wo
00000008: 72 6c 64 2c 20 63 61 66  rld, caf
00000010: 65 20 31 32 20 61 62 21  e 12 ab!
00000018: 0a 00 01                 ...
`;
  const g4 = `00000000: 68656c6c 6f20776f 726c642c 20636166  hello world, caf
00000010: 65203132 20616221 0a0001             e 12 ab!...
`;
  // With -c5 a line's ASCII column can start with a space: three spaces before it.
  const c5 = `00000000: 6865 6c6c 6f  hello
00000005: 2077 6f72 6c   worl
0000000a: 642c 2063 61  d, ca
0000000f: 6665 2031 32  fe 12
00000014: 2061 6221 0a   ab!.
00000019: 0001          ..
`;
  assert.deepEqual(parseXxd(g1c8), SAMPLE);
  assert.deepEqual(parseXxd(g4), SAMPLE);
  assert.deepEqual(parseXxd(c5), SAMPLE);
});

Deno.test("parseXxd fills the lines skipped by xxd -a with zeros", () => {
  const dump = `00000000: 0000 0000 0000 0000 0000 0000 0000 0000  ................
*
00000040: 6869 0a                                  hi.
`;
  assert.deepEqual(parseXxd(dump), concat(new Uint8Array(64), ascii("hi\n")));
});

Deno.test("parseXxd rejects an offset that does not follow on", () => {
  const dump = `00000000: 6869 0a  hi.
00000010: 6869 0a  hi.
`;
  assert.throws(() => parseXxd(dump), HexInputError);
  assert.throws(() => parseXxd(dump), {
    message: "Cannot parse hex: expected offset 00000003, found 00000010 at line 2, column 1",
  });
});

Deno.test("parseXxd reports a bad character in the hex column", () => {
  assert.throws(() => parseXxd("00000000: 68z9 0a  h.\n"), {
    name: "HexInputError",
    message: 'Cannot parse hex: unexpected character "z" at line 1, column 13',
  });
  assert.throws(() => parseXxd("hello\n"), {
    message: 'Cannot parse hex: unexpected character "h" at line 1, column 1',
  });
});

Deno.test("parseTsharkDump gives one packet per blank-line separated block", () => {
  const packets = parseTsharkDump(TSHARK_TWO_PACKETS);
  assert.equal(packets.length, 2);
  assert.equal(packets[0]?.length, 0x4a);
  assert.equal(packets[1]?.length, 0x54);
  assert.deepEqual(packets[0]?.subarray(0, 16), concat(new Uint8Array(12), bytes(8, 0, 0x45, 0)));
  assert.deepEqual(packets[1]?.subarray(0x42), ascii("HELLO game-socket\n"));
});

Deno.test("parseTsharkDump starts a new packet at offset 0000 without a blank line", () => {
  const text = TSHARK_TWO_PACKETS.replace("\n\n0000", "\n0000");
  assert.deepEqual(parseTsharkDump(text), parseTsharkDump(TSHARK_TWO_PACKETS));
});

Deno.test("parseTsharkDump ignores summary lines printed with -P", () => {
  const text = `    1 0.000000000    127.0.0.1 → 127.0.0.1    TCP 74 55290 → 45139 [SYN] Seq=0

0000  00 00 00 00 00 00 00 00 00 00 00 00 08 00 45 00   ..............E.
0010  00 3c c0 4f 40 00 40 06 7c 6a 7f 00 00 01 7f 00   .<.O@.@.|j......

    2 0.000028432    127.0.0.1 → 127.0.0.1    TCP 74 45139 → 55290 [SYN, ACK] Seq=0 Ack=1

0000  00 00 00 00 00 00 00 00 00 00 00 00 08 00 45 00   ..............E.
0010  00 3c 00 00 40 00                                 .<..@.

`;
  const packets = parseTsharkDump(text);
  assert.deepEqual(packets.map((p) => p.length), [32, 22]);
});

Deno.test("parseTsharkDump keeps only the frame block of a packet with sub-headers", () => {
  // Real tshark 4.0 output for a packet that completes a reassembled PDU.
  const text = `0000  00 00 00 00 00 00 00 00 00 00 00 00 08 00 45 00   ..............E.
0010  00 34 dc f5 40 00 40 06 5f cc 7f 00 00 01 7f 00   .4..@.@._.......
0020  00 01 b0 53 d7 fa ee 77 e1 63 72 ff d6 20 80 10   ...S...w.cr.. ..
0030  00 40 fe 28 00 00 01 01 08 0a 22 d1 b4 01 28 22   .@.(......"...("
0040  d4 ed                                             ..

Frame (68 bytes):
0000  00 00 00 00 00 00 00 00 00 00 00 00 08 00 45 00   ..............E.
0010  00 36 c0 52 40 00 40 06 7c 6d 7f 00 00 01 7f 00   .6.R@.@.|m......
0020  00 01 d7 fa b0 53 72 ff d6 20 ee 77 e1 63 80 18   .....Sr.. .w.c..
0030  00 40 fe 2a 00 00 01 01 08 0a 28 22 d5 30 22 d1   .@.*......(".0".
0040  b4 01 0d 0a                                       ....
Reassembled TCP (27 bytes):
0000  47 45 54 20 2f 20 48 54 54 50 2f 31 2e 31 0d 0a   GET / HTTP/1.1..
0010  48 6f 73 74 3a 20 78 0d 0a 0d 0a                  Host: x....

0000  00 00 00 00 00 00 00 00 00 00 00 00 08 00 45 00   ..............E.
0010  00 34 dc f6 40 00 40 06 5f cb 7f 00 00 01 7f 00   .4..@.@._.......
`;
  const packets = parseTsharkDump(text);
  assert.deepEqual(packets.map((p) => p.length), [66, 68, 32]);
  assert.deepEqual(packets[1]?.subarray(64), bytes(0xb4, 0x01, 0x0d, 0x0a));
});

Deno.test("parseTsharkDump ignores hex-looking text in the ASCII column", () => {
  const text = "0000  63 61 66 65 20 31 32 20 61 62 20 20 64 65 20 20   cafe 12 ab  de  \n" +
    "0010  30 30 20 66 66                                    00 ff\n";
  assert.deepEqual(parseTsharkDump(text), [ascii("cafe 12 ab  de  00 ff")]);
});

Deno.test("parseTsharkDump also reads hexdump -C style lines", () => {
  const text = `00000000  68 65 6c 6c 6f 20 77 6f  72 6c 64 2c 20 63 61 66  |hello world, caf|
00000010  65 20 31 32 20 61 62 21  0a 00 01                 |e 12 ab!...|
0000001b
`;
  assert.deepEqual(parseTsharkDump(text), [SAMPLE]);
});

Deno.test("parseTsharkDump rejects a gap in the offsets", () => {
  const text = TSHARK_TWO_PACKETS.replace("0010  00 46", "0020  00 46");
  assert.throws(() => parseTsharkDump(text), HexInputError);
  assert.throws(() => parseTsharkDump(text), {
    message: "Cannot parse hex: expected offset 0010, found 0020 at line 8, column 1",
  });
});

Deno.test("parseTsharkDump rejects a block that does not start at 0000", () => {
  assert.throws(() => parseTsharkDump("0010  00 01   ..\n"), {
    message: "Cannot parse hex: expected offset 0000, found 0010 at line 1, column 1",
  });
});

Deno.test("parseTsharkDump reports a bad character in the byte column", () => {
  assert.throws(() => parseTsharkDump("0000  45 0g 00   E..\n"), {
    name: "HexInputError",
    message: 'Cannot parse hex: unexpected character "g" at line 1, column 11',
  });
});

Deno.test("parseHexInput detects the format and returns its packets", () => {
  assert.deepEqual(parseHexInput("68 69"), { format: "plain", packets: [ascii("hi")] });
  assert.deepEqual(parseHexInput("00000000: 6869  hi\n"), {
    format: "xxd",
    packets: [ascii("hi")],
  });
  const tshark = parseHexInput(TSHARK_TWO_PACKETS);
  assert.equal(tshark.format, "tshark");
  assert.equal(tshark.packets.length, 2);
  assert.deepEqual(parseHexInput(""), { format: "plain", packets: [bytes()] });
});

Deno.test("parseHexInput uses the format it is given", () => {
  // Read as plain hex, the offsets become bytes too.
  assert.deepEqual(parseHexInput("0000  68 69", "plain").packets, [bytes(0, 0, 0x68, 0x69)]);
  assert.throws(() => parseHexInput("0000  68 69", "xxd"), HexInputError);
});
