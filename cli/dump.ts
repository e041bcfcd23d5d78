/**
 * `deno task dump`: a relay between game-socket clients and a server that prints every packet
 * it forwards, decoded.
 *
 * @module
 */

import { parseArgs, styleText } from "node:util";
import {
  formatRelayCaptureChunk,
  formatRelayEvent,
  PacketRelay,
  RELAY_CAPTURE_HEADER,
  type RelayEvent,
  relayEventToJson,
} from "../inspect/mod.ts";
import type { SchemaRegistry } from "../protocol/mod.ts";
import { loadSchemas } from "./load_schemas.ts";
import type { JsonValue } from "../client.ts";
import { fail, formatHostPort, list, parseHostPort, watch } from "./dump_client.ts";

const HELP = `Usage: deno task dump --listen <host:port> --target <host:port> [options]
       deno task dump --connect <host:port> [--ns <namespace>] [--join <room>] [options]
       deno task dump --connect <host:port> [--ns <namespace>] --list [--prefix <p>] [options]

Relays TCP connections to a game-socket server unchanged, and prints every packet that
crosses the relay in either direction, decoded:

  conn 1     0.004s open: client 127.0.0.1:50122, server 127.0.0.1:3103
  conn 1 C>S 0.005s #1 Connect / {namespace: "/", channel: 0, protocolVersion: 1, ...}
  conn 1 S>C 0.007s #2 Handshake / {namespace: "/", channel: 0, socketId: "...", ...}
  conn 1 C>S 0.012s #7 RoomEvent /home {room: "lobby", event: 0 "hello", ...}
  conn 1 C>S 0.950s end: the client closed its side; closing the server's write side
  conn 1     0.951s closed: 120 bytes C>S, 230 bytes S>C

  conn 1        connection number, in order of acceptance
  C>S, S>C      client to server, server to client (blank: the whole connection)
  0.005s        seconds since the relay started
  #1 ...        the packet as 'deno task decode' prints it: number, schema, namespace, fields

Each chunk is forwarded as soon as it arrives, never held back for whole frames. Bytes
that do not decode are reported (an 'error:' line) and relayed all the same; that
direction is then relayed undecoded. When one side closes its stream, the relay closes the
other side's write side; when one side fails, it closes both. Ctrl-C or SIGTERM stops the
relay, closing every connection.

With --udp-port, the relay also relays UDP: it binds UDP on its own listening address and
port number (where a client sends its datagrams when the server's Handshake says udpPort 0,
the same-port form), forwards each datagram unchanged and at once to the target's host at
the UDP port, from one socket per client address (like a NAT), and prints it:

  peer 1     0.019s udp open: client 127.0.0.1:50130, server 127.0.0.1:3103 (from 127.0.0.1:50131)
  conn 1 C>S 0.020s udp hello session 7 seq 0 {time: 10342, echo: 0}
  conn 1 C>S 0.035s udp sequenced session 7 seq 5 Event /home {event: 2 "move", ...}
  peer 1 C>S 0.040s udp bad: Cannot decode datagram: 5 bytes, ... [truncated]

  conn 1        the TCP connection whose Handshake announced the session (udpSession);
                'peer N' (the client address's number) when the relay did not see it
  udp ...       the type (hello, unreliable, sequenced), session, sequence number, then
                the hello's fields, each frame (one line each; [2/3] when several), or why
                the datagram is bad; '(bad tag)' when its tag does not match the key
                (udpKey) of the session's Handshake (not checked without one)

A Handshake that would send the clients' datagrams past the relay (an explicit udpPort)
or to a relay that does not relay UDP prints a 'warning:' line, once.

Client mode (--connect) joins a room as a client and prints everything that arrives, like
'tail -f' for a room: events (with room and sender), messages (with --schemas), rooms joined
and left, members entering and leaving, and the disconnect:

  0.004 /lobby joined duel as ann #2, 2/2 members: Xy3k...9rWzPw bob #1, nB4N...LE5qgA ann #2
  1.250 /lobby duel chat from Xy3kN0aUQ2iMnaXo9rWzPw: "gl hf"
  2.010 /lobby hall: Xy3kN0aUQ2iMnaXo9rWzPw bob #1 entered
  2.300 /lobby duel: kE2x0Jm4TnS1v8u5w6aZqQ cy #3 moved from hall

With --list, client mode prints the namespace's listed rooms instead (every page: name,
members/capacity, locked or open, metadata), then how many, and exits:

  duel  1/2 members  locked  {"map":"dust"}
  hall  3 members    open    {}
  2 rooms in /lobby

Options:
  -c, --connect <host:port>  client mode: the server to connect to
      --ns <namespace>       client mode: the namespace to connect (default: /)
      --join <room>          client mode: the room to join (default: none)
      --key <key>            client mode: the key of the room to join, if it needs one
      --player <name>        client mode: the player name to join as
      --auth <json>          client mode: credentials for the connect, as JSON
      --list                 client mode: print the namespace's rooms and exit; with --json,
                             one JSON object per room
      --prefix <text>        with --list: only rooms whose name starts with <text>
      --available            with --list: only rooms with a free seat
  -l, --listen <host:port>   where to listen (port 0 picks a free one); the first line
                             printed says where: "relaying 127.0.0.1:4000 -> 127.0.0.1:3103"
  -t, --target <host:port>   the server to relay to ([::1]:3103 for IPv6)
      --udp-port <port>      the server's UDP port: relay datagrams too, on the
                             listening address and port number (see above)
      --hex                  add each packet's bytes, on an indented line (JSON: "hex")
      --json                 print one JSON object per line: the start, then packets, notes,
                             errors, open, end and close events, each with "conn",
                             "direction" (where it has one) and "time"
      --filter <name>        print only packets whose namespace, event name or schema name
                             is <name> (exactly); repeat it to allow several. It applies to
                             the frames in datagrams too; 'udp' shows every datagram (a
                             hello answers to nothing else). Connection lines, notes,
                             errors, warnings and bad datagrams are always printed.
      --save <file>          also write a relay capture of every chunk relayed, which
                             'deno task decode --file <file>' reads back (TCP only:
                             datagrams are not recorded)
  -s, --schemas <module>     a module whose exported schemas decode application messages
      --max-frame-size <n>   the largest frame to decode (default: 65536)
  -h, --help                 show this help

Relay capture (--save): a text file. Its first line is "${RELAY_CAPTURE_HEADER}";
lines starting with '#' are comments; every other line is one chunk as the relay read it:
connection number, direction, seconds since the start, and the bytes in hex:

  1 C>S 0.004 2c1000...

Exit status: 0 when stopped by Ctrl-C or SIGTERM; 1 when the relay cannot listen, cannot
write the capture, or its listener fails, or (client mode) when the connect or join is
refused, the server ends the connection or the listing fails; 2 on bad usage (or schemas
that do not load). --list exits 0 once it has printed the rooms.

Examples:
  deno task serve --port 3103 &
  deno task dump --listen 127.0.0.1:4000 --target 127.0.0.1:3103 --save session.txt
  deno run --allow-net examples/client.ts --port 4000
  deno task dump --connect 127.0.0.1:3103 --ns /home --join lobby
  deno task dump --connect 127.0.0.1:3103 --ns /lobby --list --available
`;

/**
 * Runs the dump CLI until Ctrl-C or SIGTERM.
 *
 * @param args The command-line arguments.
 * @returns The exit status.
 */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        connect: { type: "string", short: "c" },
        ns: { type: "string" },
        join: { type: "string" },
        key: { type: "string" },
        player: { type: "string" },
        auth: { type: "string" },
        list: { type: "boolean", default: false },
        prefix: { type: "string" },
        available: { type: "boolean", default: false },
        listen: { type: "string", short: "l" },
        target: { type: "string", short: "t" },
        "udp-port": { type: "string" },
        hex: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        filter: { type: "string", multiple: true },
        save: { type: "string" },
        schemas: { type: "string", short: "s" },
        "max-frame-size": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    return usage((error as Error).message);
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const watching = values.join !== undefined || values.key !== undefined ||
    values.player !== undefined;
  const listing = values.list || values.prefix !== undefined || values.available;
  if (values.connect !== undefined) {
    if (
      values.listen !== undefined || values.target !== undefined || values.save !== undefined ||
      values["udp-port"] !== undefined
    ) {
      return usage(
        "--connect (client mode) goes without --listen, --target, --udp-port and --save",
      );
    }
    if (values.list && watching) return usage("--list goes without --join, --key and --player");
    if (listing && !values.list) return usage("--prefix and --available go with --list");
    if ((values.key !== undefined || values.player !== undefined) && values.join === undefined) {
      return usage("--key and --player go with --join");
    }
  } else if (values.ns !== undefined || values.auth !== undefined || watching || listing) {
    return usage(
      "--ns, --join, --key, --player, --auth, --list, --prefix and --available belong to " +
        "client mode (--connect)",
    );
  } else if (values.listen === undefined || values.target === undefined) {
    return usage("the relay needs --listen <host:port> and --target <host:port>");
  }
  let maxFrameSize: number | undefined;
  if (values["max-frame-size"] !== undefined) {
    maxFrameSize = Number(values["max-frame-size"]);
    if (!Number.isInteger(maxFrameSize) || maxFrameSize < 1 || maxFrameSize > 16 * 1024 * 1024) {
      return usage(`--max-frame-size must be an integer in 1..16777216`);
    }
  }
  let schemas: SchemaRegistry | undefined;
  if (values.schemas !== undefined) {
    try {
      schemas = await loadSchemas(values.schemas);
    } catch (error) {
      return fail(`cannot load schemas from ${values.schemas}: ${(error as Error).message}`, 2);
    }
  }

  if (values.connect !== undefined) {
    const server = parseHostPort(values.connect, 1);
    if (typeof server === "string") return usage(`--connect: ${server}`);
    let auth: JsonValue | undefined;
    if (values.auth !== undefined) {
      try {
        auth = JSON.parse(values.auth);
      } catch {
        return usage("--auth must be JSON");
      }
    }
    const client = {
      ...(values.ns === undefined ? {} : { namespace: values.ns }),
      ...(schemas === undefined ? {} : { schemas }),
      ...(auth === undefined ? {} : { auth }),
    };
    if (values.list) {
      return await list(server, {
        ...client,
        ...(values.prefix === undefined ? {} : { prefix: values.prefix }),
        ...(values.available ? { available: true } : {}),
      }, values.json);
    }
    return await watch(server, {
      ...client,
      ...(values.join === undefined ? {} : { room: values.join }),
      ...(values.key === undefined ? {} : { key: values.key }),
      ...(values.player === undefined ? {} : { player: values.player }),
    }, values.json);
  }
  const listen = parseHostPort(values.listen!, 0);
  if (typeof listen === "string") return usage(`--listen: ${listen}`);
  const target = parseHostPort(values.target!, 1);
  if (typeof target === "string") return usage(`--target: ${target}`);
  let udpPort: number | undefined;
  if (values["udp-port"] !== undefined) {
    udpPort = Number(values["udp-port"]);
    if (!/^\d+$/.test(values["udp-port"]) || udpPort < 1 || udpPort > 65535) {
      return usage(`--udp-port: the port must be in 1..65535, got "${values["udp-port"]}"`);
    }
  }

  let save: Deno.FsFile | undefined;
  const json = values.json;
  const format = { hex: values.hex, filter: values.filter ?? [] };
  const encoder = new TextEncoder();
  let saveError: Error | undefined;
  const record = (line: string) => {
    if (save === undefined || saveError !== undefined) return;
    try {
      const bytes = encoder.encode(`${line}\n`);
      for (let done = 0; done < bytes.length;) done += save.writeSync(bytes.subarray(done));
    } catch (error) {
      saveError = error as Error;
      console.error(styleText("red", `error: cannot write ${values.save}: ${saveError.message}`));
    }
  };
  const handle = (event: RelayEvent) => {
    if (event.type === "chunk") return record(formatRelayCaptureChunk(event));
    if (event.type === "open") {
      record(`# conn ${event.conn} open: client ${event.client}, server ${event.server}`);
    }
    if (event.type === "close") record(`# conn ${event.conn} closed`);
    if (json) {
      const object = relayEventToJson(event, format);
      if (object !== undefined) console.log(JSON.stringify(object));
      return;
    }
    const line = formatRelayEvent(event, format);
    if (line === undefined) return;
    const bad = event.type === "error" ||
      (event.type === "datagram" && (event.fault !== undefined || event.tag === "bad"));
    console.log(
      bad ? styleText("red", line) : event.type === "warning" ? styleText("yellow", line) : line,
    );
  };

  // Events wait until the first line is printed and the capture is open: UDP binds after TCP
  // listens, and a client may connect in between.
  let early: RelayEvent[] | undefined = [];
  const onEvent = (event: RelayEvent) => early === undefined ? handle(event) : early.push(event);

  let relay: PacketRelay;
  try {
    relay = new PacketRelay({
      listen,
      target: { ...target, ...(udpPort === undefined ? {} : { udpPort }) },
      onEvent,
      ...(schemas === undefined ? {} : { schemas }),
      ...(maxFrameSize === undefined ? {} : { maxFrameSize }),
    });
  } catch (error) {
    return fail(`cannot listen on ${values.listen}: ${(error as Error).message}`, 1);
  }
  try {
    await relay.ready;
  } catch (error) {
    await relay.close();
    const where = `udp ${formatHostPort(relay.addr)}`;
    return fail(`cannot listen on ${where}: ${(error as Error).message}`, 1);
  }
  if (values.save !== undefined) {
    // Opened only once listening works, so a failed start leaves an old capture alone.
    try {
      save = Deno.openSync(values.save, { write: true, create: true, truncate: true });
    } catch (error) {
      await relay.close();
      return fail(`cannot write ${values.save}: ${(error as Error).message}`, 1);
    }
  }
  const from = formatHostPort(relay.addr);
  const to = formatHostPort(relay.target);
  const udpTo = udpPort === undefined
    ? undefined
    : formatHostPort({ hostname: relay.target.hostname, port: udpPort });
  record(RELAY_CAPTURE_HEADER);
  record(`# relaying ${from} -> ${to}, started ${new Date().toISOString()}`);
  if (udpTo !== undefined) {
    record(`# relaying udp ${from} -> ${udpTo}; datagrams are not recorded in this capture`);
  }
  const udpText = udpTo === undefined ? "" : `, udp ${from} -> ${udpTo}`;
  console.log(
    json
      ? JSON.stringify({
        type: "relaying",
        listen: from,
        target: to,
        ...(udpTo === undefined ? {} : { udp: { listen: from, target: udpTo } }),
      })
      : `relaying ${from} -> ${to}${udpText}`,
  );
  for (const event of early.splice(0)) handle(event);
  early = undefined;

  let stop = () => {};
  const stopped = new Promise<void>((resolve) => stop = resolve);
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  let status = 0;
  try {
    await Promise.race([stopped, relay.finished]);
  } catch (error) {
    console.error(styleText("red", `error: the listener failed: ${(error as Error).message}`));
    status = 1;
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
    await relay.close();
  }
  console.log(json ? JSON.stringify({ type: "stopped" }) : "stopped");
  save?.close();
  return saveError === undefined ? status : 1;
}

function usage(message: string): number {
  console.error(styleText("red", `error: ${message}`));
  console.error("Run with --help for usage.");
  return 2;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
