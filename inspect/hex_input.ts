/**
 * Turns hex captures (plain hex, `xxd` dumps, `tshark -x` dumps) into bytes.
 *
 * @module
 */

/** The hex capture formats understood by {@linkcode parseHexInput}. */
export type HexFormat = "plain" | "xxd" | "tshark";

/**
 * Thrown when hex input cannot be parsed; says where, so the user can fix the capture.
 *
 * @example Reading the position of the problem
 * ```ts
 * import { HexInputError, parsePlainHex } from "@game-socket/game-socket/inspect";
 *
 * try {
 *   parsePlainHex("00 01\n02 0g");
 * } catch (e) {
 *   if (e instanceof HexInputError) console.log(e.line, e.column); // 2 5
 * }
 * ```
 */
export class HexInputError extends Error {
  /** Always `"HexInputError"`. */
  override readonly name = "HexInputError";
  /** 1-based line of the problem. */
  readonly line: number;
  /** 1-based column of the problem (in UTF-16 code units). */
  readonly column: number;

  /**
   * Creates the error; the message reads `Cannot parse hex: PROBLEM at line L, column C`.
   *
   * @param problem What is wrong, e.g. `unexpected character "g"`.
   * @param line 1-based line number.
   * @param column 1-based column number.
   */
  constructor(problem: string, line: number, column: number) {
    super(`Cannot parse hex: ${problem} at line ${line}, column ${column}`);
    this.line = line;
    this.column = column;
  }
}

// A tshark dump line: offset of 4+ hex digits, two spaces, then a lone byte.
const TSHARK_LINE = /^([0-9a-f]{4,}) {2}(?=[0-9a-f]{2}(?: |$))/i;
// An xxd line: offset, a colon, then a space.
const XXD_LINE = /^([0-9a-f]{4,}):(?= )/i;
// A tshark data-source sub-header such as "Frame (74 bytes):" or "Reassembled TCP (27 bytes):".
const TSHARK_SUB_HEADER = /^\S.* \(\d+ bytes?\):\s*$/;

function splitLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

function hexValue(ch: string | undefined): number {
  if (ch === undefined || ch.length !== 1) return -1;
  const c = ch.charCodeAt(0);
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

function unexpected(text: string, index: number, line: number, column: number): HexInputError {
  if (index >= text.length) return new HexInputError("unexpected end of line", line, column);
  // JSON.stringify quotes the character and makes control characters visible.
  const ch = String.fromCodePoint(text.codePointAt(index) ?? 0);
  return new HexInputError(`unexpected character ${JSON.stringify(ch)}`, line, column);
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

/**
 * Guesses the format of a hex capture from its first dump-looking line.
 *
 * tshark `-x` lines look like `0000  45 00 00 3c ...   E..<`; xxd lines like
 * `00000000: 7e00 2e00  ~...`; anything else is plain hex.
 *
 * @param text The capture text.
 * @returns The detected format, `"plain"` when no dump line is found.
 *
 * @example
 * ```ts
 * import { detectHexFormat } from "@game-socket/game-socket/inspect";
 *
 * detectHexFormat("00000000: 7e00 2e00  ~..."); // "xxd"
 * detectHexFormat("0000  7e 00 2e 00   ~..."); // "tshark"
 * detectHexFormat("7e 00 2e 00"); // "plain"
 * ```
 */
export function detectHexFormat(text: string): HexFormat {
  for (const line of splitLines(text)) {
    if (XXD_LINE.test(line)) return "xxd";
    if (TSHARK_LINE.test(line)) return "tshark";
  }
  return "plain";
}

/**
 * Parses plain hex: digits with any whitespace or line breaks between them, optional `0x`
 * prefixes on tokens, and optional `:` or `,` separators (`de:ad`, `0xde, 0xad`, `dead`).
 *
 * Digits pair up across whitespace, except that a `0x` token must hold whole bytes.
 *
 * @param text The hex text.
 * @returns The bytes.
 * @throws {HexInputError} On a non-hex character or an odd number of digits.
 *
 * @example
 * ```ts
 * import { parsePlainHex } from "@game-socket/game-socket/inspect";
 *
 * parsePlainHex("0x7e, 0x00\n2e00"); // Uint8Array [0x7e, 0x00, 0x2e, 0x00]
 * ```
 */
export function parsePlainHex(text: string): Uint8Array {
  const out: number[] = [];
  let line = 1;
  let column = 0;
  // A lone high digit waiting for its partner, with its position for error messages.
  let pending: { value: number; line: number; column: number } | undefined;
  let atTokenStart = true;
  let prefix: { line: number; column: number; digits: number } | undefined;

  const oddDigits = (p: { line: number; column: number }) =>
    new HexInputError("odd number of hex digits", p.line, p.column);
  const endToken = () => {
    if (prefix === undefined) return;
    if (prefix.digits === 0) {
      throw new HexInputError('no digits after "0x"', prefix.line, prefix.column);
    }
    if (pending !== undefined) throw oddDigits(pending);
    prefix = undefined;
  };

  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    column++;
    if (ch === "\n" || ch === "\r") {
      // Treat "\r\n" as one line break.
      if (ch === "\r" && text[i + 1] === "\n") i++;
      endToken();
      line++;
      column = 0;
      atTokenStart = true;
      continue;
    }
    if (ch === "," || ch === ":" || /\s/.test(ch ?? "")) {
      endToken();
      atTokenStart = true;
      continue;
    }
    if (atTokenStart && ch === "0" && (text[i + 1] === "x" || text[i + 1] === "X")) {
      if (pending !== undefined) throw oddDigits(pending);
      prefix = { line, column, digits: 0 };
      i++;
      column++;
      atTokenStart = false;
      continue;
    }
    atTokenStart = false;
    const value = hexValue(ch);
    if (value < 0) throw unexpected(text, i, line, column);
    if (prefix !== undefined) prefix.digits++;
    if (pending === undefined) {
      pending = { value, line, column };
    } else {
      out.push((pending.value << 4) | value);
      pending = undefined;
    }
  }
  endToken();
  if (pending !== undefined) throw oddDigits(pending);
  return Uint8Array.from(out);
}

/**
 * Parses an `xxd` dump (any `-g` group size and `-c` width, `-a` `*` lines), ignoring the
 * offset and ASCII columns.
 *
 * The hex column ends at the first run of two or more spaces, which is how xxd separates it
 * from the ASCII column (that may itself hold spaces and hex-looking text). Offsets must
 * follow on from each other; after a `*` line the skipped bytes are zeros.
 *
 * @param text The `xxd` output.
 * @returns The bytes.
 * @throws {HexInputError} On a malformed line or an offset that does not follow on.
 *
 * @example
 * ```ts
 * import { parseXxd } from "@game-socket/game-socket/inspect";
 *
 * parseXxd("00000000: 6869 0a                                  hi.\n"); // [0x68, 0x69, 0x0a]
 * ```
 */
export function parseXxd(text: string): Uint8Array {
  const out: number[] = [];
  let expected: number | undefined;
  let afterStar = false;
  splitLines(text).forEach((lineText, index) => {
    const lineNo = index + 1;
    if (lineText.trim() === "") return;
    if (lineText.trim() === "*") {
      afterStar = true;
      return;
    }
    const match = XXD_LINE.exec(lineText);
    if (match === null) {
      let i = 0;
      while (hexValue(lineText[i]) >= 0) i++;
      throw unexpected(lineText, i, lineNo, i + 1);
    }
    const offset = parseInt(match[1] ?? "", 16);
    if (expected !== undefined && offset !== expected) {
      // xxd -a prints "*" in place of all-zero lines.
      if (!afterStar || offset < expected) {
        throw new HexInputError(
          `expected offset ${hex(expected, 8)}, found ${hex(offset, 8)}`,
          lineNo,
          1,
        );
      }
      for (let n = expected; n < offset; n++) out.push(0);
    }
    afterStar = false;

    let i = match[0].length;
    let count = 0;
    for (let first = true;; first = false) {
      let spaces = 0;
      while (lineText[i + spaces] === " ") spaces++;
      // Two spaces end the hex column; the rest is the ASCII column.
      if (i + spaces >= lineText.length || (!first && spaces >= 2)) break;
      i += spaces;
      const start = i;
      for (; i < lineText.length && lineText[i] !== " "; i++) {
        if (hexValue(lineText[i]) < 0) throw unexpected(lineText, i, lineNo, i + 1);
      }
      if ((i - start) % 2 !== 0) {
        throw new HexInputError("odd number of hex digits in group", lineNo, start + 1);
      }
      for (let d = start; d < i; d += 2) {
        out.push((hexValue(lineText[d]) << 4) | hexValue(lineText[d + 1]));
        count++;
      }
    }
    expected = offset + count;
  });
  return Uint8Array.from(out);
}

// Reads the byte column of a tshark (or `hexdump -C`) line from `start`: bytes separated by
// one space (two in hexdump's middle); three or more spaces, or two spaces then a non-byte,
// start the ASCII column.
function readDumpBytes(lineText: string, start: number, lineNo: number): number[] {
  const bytes: number[] = [];
  let i = start;
  let spacesBefore = 0;
  while (i < lineText.length) {
    const hi = hexValue(lineText[i]);
    const lo = hexValue(lineText[i + 1]);
    const after = lineText[i + 2];
    if (hi < 0 || lo < 0 || (after !== undefined && after !== " ")) {
      if (spacesBefore >= 2) break;
      const bad = hi < 0 ? i : lo < 0 ? i + 1 : i + 2;
      throw unexpected(lineText, bad, lineNo, bad + 1);
    }
    bytes.push((hi << 4) | lo);
    i += 2;
    spacesBefore = 0;
    while (lineText[i] === " ") {
      spacesBefore++;
      i++;
    }
    if (spacesBefore >= 3) break;
  }
  return bytes;
}

/**
 * Parses `tshark -x` output into one byte array per packet, ignoring offsets' and ASCII
 * columns and any line that is not a hex dump line (summary lines from `-P`, `-V` trees).
 *
 * A packet is a block of dump lines; blocks are separated by blank lines or start at offset
 * 0000. When a packet has several data sources, tshark prints sub-headers such as
 * `Frame (68 bytes):` and `Reassembled TCP (27 bytes):`; only the frame block counts.
 *
 * @param text The `tshark -x` output.
 * @returns The frames, in capture order.
 * @throws {HexInputError} On a malformed dump line or a gap in a block's offsets.
 *
 * @example
 * ```ts
 * import { parseTsharkDump } from "@game-socket/game-socket/inspect";
 *
 * const packets = parseTsharkDump("0000  45 00   E.\n\n0000  60 00   `.\n");
 * packets.length; // 2
 * ```
 */
export function parseTsharkDump(text: string): Uint8Array[] {
  const packets: number[][] = [];
  let header: "none" | "frame" | "other" = "none";
  let block: number[] | undefined; // bytes of the block being read, undefined if ignored
  let inBlock = false;
  let expected = 0;
  splitLines(text).forEach((lineText, index) => {
    const lineNo = index + 1;
    const match = TSHARK_LINE.exec(lineText);
    if (match === null) {
      inBlock = false;
      if (lineText.trim() === "") return;
      if (!TSHARK_SUB_HEADER.test(lineText)) header = "none";
      else header = lineText.startsWith("Frame (") ? "frame" : "other";
      return;
    }
    const offset = parseInt(match[1] ?? "", 16);
    if (!inBlock || offset === 0) {
      // A block right after another one (no blank line) is a new packet.
      const ignored = !inBlock && header === "other";
      block = ignored ? undefined : [];
      if (block !== undefined) packets.push(block);
      header = "none";
      inBlock = true;
      expected = 0;
    }
    if (offset !== expected) {
      const width = match[1]?.length ?? 4;
      throw new HexInputError(
        `expected offset ${hex(expected, width)}, found ${hex(offset, width)}`,
        lineNo,
        1,
      );
    }
    const bytes = readDumpBytes(lineText, match[0].length, lineNo);
    expected += bytes.length;
    block?.push(...bytes);
  });
  return packets.map((bytes) => Uint8Array.from(bytes));
}

/**
 * Parses a hex capture into packets: plain hex and xxd give one packet holding all the
 * bytes, a tshark dump gives its frames.
 *
 * @param text The capture text.
 * @param format The format, detected with {@linkcode detectHexFormat} when omitted.
 * @returns The format used and the packets.
 * @throws {HexInputError} When the text is not valid in that format.
 *
 * @example
 * ```ts
 * import { parseHexInput } from "@game-socket/game-socket/inspect";
 *
 * const { format, packets } = parseHexInput("0000  7e 00 2e 00   ~...\n");
 * // format === "tshark", packets[0] is Uint8Array [0x7e, 0x00, 0x2e, 0x00]
 * ```
 */
export function parseHexInput(
  text: string,
  format?: HexFormat,
): { format: HexFormat; packets: Uint8Array[] } {
  const used = format ?? detectHexFormat(text);
  switch (used) {
    case "plain":
      return { format: used, packets: [parsePlainHex(text)] };
    case "xxd":
      return { format: used, packets: [parseXxd(text)] };
    case "tshark":
      return { format: used, packets: parseTsharkDump(text) };
  }
}
