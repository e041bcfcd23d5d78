/**
 * `deno task serve`: runs the demo game server (the original game_socket example) until
 * interrupted.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_PORT } from "../server.ts";
import { createDemoServer } from "./demo_server.ts";

const HELP = `Usage: deno task serve [options]

Runs the demo game server: namespaces "/" and "/home"; in "/home", "hello" events sent to a
room are relayed to everyone in that room. Logs one line per connection, namespace connect,
room change and disconnect. "/lobby" is a game lobby: players land in the room "hall" (kept
for ever), create rooms (capacity, key, metadata, hidden), list them, join them (with the key,
leaving "hall" in the same step) and send "chat" events, relayed to everyone in the room; a
create, join, leave, full room and deleted room is logged. Also "/bench" for
\`deno task stress\`: its sockets join the room they ask for, and each BenchUpdate message (or
"update" event) is broadcast to the sender's whole room (not logged).
Stops on Ctrl-C (SIGINT) or SIGTERM, closing every connection.

The UDP channel is on: clients that support it send and receive unreliable updates as
datagrams, on the TCP port's number unless --udp-port says otherwise.

Options:
  -p, --port <n>         TCP port (default: ${DEFAULT_PORT}; 0 picks a free one)
  -H, --hostname <addr>  address to listen on (default: 0.0.0.0, every interface)
      --udp-port <n>     UDP port (default: the TCP port's number, announced to clients as
                         "the same port"; 0 picks a free one)
      --no-udp           no UDP channel: everything goes over TCP
      --send-tick <ms>   batch every connection's output on a shared tick of this many ms
                         (default: 0, write at the end of each event-loop tick)
      --cert <file>      TLS certificate chain (PEM); with --key, the server speaks TLS only
      --key <file>       TLS private key (PEM)
      --require-tls      refuse to start without --cert and --key (never serve plain TCP)
      --max-per-address <n>
                         connections at once from one remote address (default: 256)
  -h, --help             show this help

Try it with the example client: deno run --allow-net examples/client.ts --port <n>
List the lobby's rooms: deno task dump --connect 127.0.0.1:<n> --ns /lobby --list
`;

async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: "string", short: "p" },
        hostname: { type: "string", short: "H" },
        "udp-port": { type: "string" },
        "no-udp": { type: "boolean" },
        "send-tick": { type: "string" },
        cert: { type: "string" },
        key: { type: "string" },
        "require-tls": { type: "boolean" },
        "max-per-address": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const port = Number(values.port ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be an integer in 0..65535, got ${values.port}`);
    return 2;
  }
  const udpPort = values["udp-port"] === undefined ? undefined : Number(values["udp-port"]);
  if (udpPort !== undefined && (!Number.isInteger(udpPort) || udpPort < 0 || udpPort > 65535)) {
    console.error(`--udp-port must be an integer in 0..65535, got ${values["udp-port"]}`);
    return 2;
  }
  if (udpPort !== undefined && values["no-udp"]) {
    console.error("--udp-port and --no-udp exclude each other");
    return 2;
  }
  const sendTick = Number(values["send-tick"] ?? 0);
  if (!Number.isInteger(sendTick) || sendTick < 0 || sendTick > 1000) {
    console.error(`--send-tick must be an integer in 0..1000, got ${values["send-tick"]}`);
    return 2;
  }
  if ((values.cert === undefined) !== (values.key === undefined)) {
    console.error("--cert and --key go together");
    return 2;
  }
  if (values["require-tls"] && values.cert === undefined) {
    console.error("--require-tls: give the certificate and key with --cert and --key");
    return 2;
  }
  const perAddress = values["max-per-address"] === undefined
    ? undefined
    : Number(values["max-per-address"]);
  if (perAddress !== undefined && (!Number.isInteger(perAddress) || perAddress < 1)) {
    console.error(`--max-per-address must be an integer above 0, got ${values["max-per-address"]}`);
    return 2;
  }
  const tls = values.cert === undefined || values.key === undefined
    ? undefined
    : { cert: await Deno.readTextFile(values.cert), key: await Deno.readTextFile(values.key) };
  const hostname = values.hostname ?? "0.0.0.0";
  const server = createDemoServer({
    port,
    hostname,
    sendTick,
    udp: values["no-udp"] ? false : udpPort === undefined ? true : { port: udpPort },
    ...(tls === undefined ? {} : { tls }),
    ...(values["require-tls"] ? { requireTls: true } : {}),
    ...(perAddress === undefined ? {} : { maxConnectionsPerAddress: perAddress }),
  });
  let address: Deno.NetAddr;
  try {
    address = await server.listen();
  } catch (error) {
    console.error(`Cannot listen on ${hostname}:${port}: ${(error as Error).message}`);
    return 1;
  }
  // Tools read the TCP address after "listening on"; the UDP one follows it.
  const tcp = `${address.hostname}:${address.port} (${tls ? "TLS" : "TCP"})`;
  const udp = server.udpPort === undefined
    ? ""
    : ` and ${address.hostname}:${server.udpPort} (UDP)`;
  console.log(`listening on ${tcp}${udp}; namespaces /, /home, /lobby and /bench`);
  const stopped = new Promise<void>((resolve) => {
    const stop = () => resolve();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  await stopped;
  console.log("shutting down");
  await server.close();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
