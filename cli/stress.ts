/**
 * `deno task stress`: the load tester. Connects many clients to a game server's benchmark
 * namespace, sends BenchUpdates on a fixed schedule, and reports throughput, latency, errors and
 * lost messages.
 *
 * @module
 */

import { parseArgs, styleText } from "node:util";
import { DEFAULT_PORT } from "../server.ts";
import { BENCH_NAMESPACE } from "../load/bench_update.ts";
import { runLoad } from "../load/load_generator.ts";
import {
  boundProblem,
  CHAOS_BOUNDS,
  CLIENTS_PER_ADDRESS,
  DEFAULT_CHAOS_SEED,
  LOAD_BOUNDS,
  LOAD_DEFAULTS,
  type LoadKind,
  type LoadOptions,
  type LoadProgress,
  resolveLoadOptions,
} from "../load/load_options.ts";
import {
  errorRate,
  formatChaos,
  formatErrors,
  formatHistogram,
  formatMs,
  formatSummary,
  reportToJson,
} from "../load/load_report.ts";

const DEFAULTS = {
  host: "127.0.0.1",
  port: DEFAULT_PORT,
  clients: 200,
  rooms: 10,
  rate: 20,
  duration: 10,
  maxErrorRate: 0,
};

const HELP = `Usage: deno task stress [options]

Load-tests a game server: connects --clients clients to --namespace at --ramp-up per second
(client i joins room r<i % rooms>), then sends BenchUpdates for --duration seconds on a fixed
schedule (--rate per client), and waits up to --drain seconds for the last deliveries. Every
client records the latency of every update its room relays back. Works against
\`deno task serve\`, whose "/bench" namespace relays each update to the sender's room, over the
transport it came by.

With --udp, each client waits (up to --udp-timeout) for its UDP path to open before sending,
then sends its updates as unreliable datagrams; a client whose path does not open counts as
failed. Datagrams are never resent: what UDP loses is reported as lost, and counts in the
error rate (allow for it with --max-error-rate).

With --chaos RATE, the clients connect through a relay in this process that cuts RATE
connections per second (across all clients; each cut closes both sides of one live connection,
chosen at random from --seed) while the updates are sent. Each cut client reconnects and
resumes its session, which the server keeps (deno task serve does). The report adds cuts made,
reconnections, sessions recovered and expired, reliable messages lost and duplicates; both of
the last two must be 0, whatever --max-error-rate says. TCP only: --chaos refuses --udp.

A server takes at most 256 connections from one address by default (maxConnectionsPerAddress).
Against a loopback host, the clients spread over --addresses source addresses (client i
connects from 127.0.0.(1 + i mod n); Linux routes all of 127.0.0.0/8 to the loopback
interface): ${CLIENTS_PER_ADDRESS} clients per address by default. With 1 address, the system chooses it.
With --chaos, the relay's connections to the server are spread the same way.

Options:
      --host <host>            the server (default: ${DEFAULTS.host})
  -p, --port <n>               its port (default: ${DEFAULTS.port})
  -c, --clients <n>            clients (default: ${DEFAULTS.clients}; at most ${LOAD_BOUNDS.clients.max})
      --addresses <n>          loopback source addresses to spread the clients over (default:
                               ceil(clients / ${CLIENTS_PER_ADDRESS}) for a loopback --host, else 1; at most ${LOAD_BOUNDS.addresses.max})
      --namespace <name>       the namespace (default: ${BENCH_NAMESPACE})
      --rooms <n>              rooms (default: ${DEFAULTS.rooms})
      --rate <hz>              updates per second of each client (default: ${DEFAULTS.rate})
      --kind <message|event>   message: a BenchUpdate message frame; event: an "update" event
                               carrying one (default: ${LOAD_DEFAULTS.kind})
      --udp                    send the updates unreliable, over UDP (default: TCP)
      --udp-timeout <s>        with --udp, seconds each client waits for its UDP path to open
                               (default: ${LOAD_DEFAULTS.udpTimeout})
      --chaos <rate>           cut connections while sending: <rate> cuts per second across all
                               clients (a number above 0, at most ${CHAOS_BOUNDS.rate.max}; default: no cuts)
      --seed <n>               with --chaos, the seed of which connection is cut (default: ${DEFAULT_CHAOS_SEED})
  -d, --duration <s>           seconds of sending (default: ${DEFAULTS.duration}; at most ${LOAD_BOUNDS.duration.max})
      --ramp-up <n>            connections started per second (default: ${LOAD_DEFAULTS.rampUp})
      --drain <s>              seconds to wait for deliveries after the last send (default: ${LOAD_DEFAULTS.drain})
      --max-error-rate <r>     exit 1 when (failed connections + errors + lost) /
                               (expected + clients) exceeds r (default: ${DEFAULTS.maxErrorRate}: any error fails)
      --json                   print the report as one JSON object on standard output (the
                               progress and summary go to standard error)
  -h, --help                   show this help

While it runs, a progress line (redrawn on a terminal, else every 2 s): connected, failed,
sent, received, msgs/s, latency p50/p99. At the end: a summary, a latency histogram, errors by
reason and messages lost (and with --chaos, what the cuts did). Ctrl-C stops sending,
summarizes and exits.

Exit status: 0 when the error rate is within --max-error-rate (and, with --chaos, no reliable
message was lost or duplicated); 1 when not; 2 on bad arguments.
`;

/** Flags of numeric options, by option name, for messages. */
const FLAGS: Record<Exclude<keyof typeof LOAD_BOUNDS, "progressInterval">, string> = {
  port: "--port",
  clients: "--clients",
  addresses: "--addresses",
  rooms: "--rooms",
  rate: "--rate",
  duration: "--duration",
  rampUp: "--ramp-up",
  drain: "--drain",
  udpTimeout: "--udp-timeout",
};

const NUMBER = /^\+?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

class UsageError extends Error {}

/**
 * Runs the stress CLI.
 *
 * @param args The command-line arguments.
 * @returns The exit status.
 */
export async function main(args: string[]): Promise<number> {
  let options: LoadOptions;
  let maxErrorRate: number;
  let json: boolean;
  let addresses: number;
  try {
    const { values } = parseArgs({
      args,
      options: {
        host: { type: "string" },
        port: { type: "string", short: "p" },
        clients: { type: "string", short: "c" },
        addresses: { type: "string" },
        namespace: { type: "string" },
        rooms: { type: "string" },
        rate: { type: "string" },
        kind: { type: "string" },
        udp: { type: "boolean", default: false },
        "udp-timeout": { type: "string" },
        chaos: { type: "string" },
        seed: { type: "string" },
        duration: { type: "string", short: "d" },
        "ramp-up": { type: "string" },
        drain: { type: "string" },
        "max-error-rate": { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    json = values.json;
    const number = (name: keyof typeof FLAGS, text: string | undefined, fallback: number) => {
      if (text === undefined) return fallback;
      const value = NUMBER.test(text) ? Number(text) : NaN;
      const problem = boundProblem(value, LOAD_BOUNDS[name]);
      if (problem !== undefined) {
        throw new UsageError(`${FLAGS[name]} ${problem}, got ${JSON.stringify(text)}`);
      }
      return value;
    };
    const kind = values.kind ?? LOAD_DEFAULTS.kind;
    if (kind !== "message" && kind !== "event") {
      throw new UsageError(`--kind is message or event, got ${JSON.stringify(kind)}`);
    }
    const host = values.host ?? DEFAULTS.host;
    if (host.trim() === "") throw new UsageError("--host is empty");
    const rate = values["max-error-rate"];
    maxErrorRate = rate === undefined
      ? DEFAULTS.maxErrorRate
      : NUMBER.test(rate)
      ? Number(rate)
      : NaN;
    if (!(maxErrorRate >= 0 && maxErrorRate <= 1)) {
      throw new UsageError(
        `--max-error-rate must be a number in 0..1, got ${JSON.stringify(rate)}`,
      );
    }
    options = {
      host,
      port: number("port", values.port, DEFAULTS.port),
      clients: number("clients", values.clients, DEFAULTS.clients),
      namespace: values.namespace ?? BENCH_NAMESPACE,
      rooms: number("rooms", values.rooms, DEFAULTS.rooms),
      rate: number("rate", values.rate, DEFAULTS.rate),
      duration: number("duration", values.duration, DEFAULTS.duration),
      rampUp: number("rampUp", values["ramp-up"], LOAD_DEFAULTS.rampUp),
      drain: number("drain", values.drain, LOAD_DEFAULTS.drain),
      kind: kind satisfies LoadKind,
      transport: values.udp ? "udp" : "tcp",
      udpTimeout: number("udpTimeout", values["udp-timeout"], LOAD_DEFAULTS.udpTimeout),
    };
    if (values.addresses !== undefined) {
      options.addresses = number("addresses", values.addresses, 1);
    }
    if (values["udp-timeout"] !== undefined && !values.udp) {
      throw new UsageError("--udp-timeout goes with --udp");
    }
    if (values.seed !== undefined && values.chaos === undefined) {
      throw new UsageError("--seed goes with --chaos");
    }
    if (values.chaos !== undefined) {
      if (values.udp) {
        throw new UsageError(
          "--chaos goes with TCP, not --udp: its relay carries TCP only, and UDP updates are unreliable",
        );
      }
      const chaosNumber = (name: "rate" | "seed", flag: string, text: string) => {
        const value = NUMBER.test(text) ? Number(text) : NaN;
        const problem = boundProblem(value, CHAOS_BOUNDS[name]);
        if (problem !== undefined) {
          throw new UsageError(`${flag} ${problem}, got ${JSON.stringify(text)}`);
        }
        return value;
      };
      options.chaos = {
        rate: chaosNumber("rate", "--chaos", values.chaos),
        seed: values.seed === undefined
          ? DEFAULT_CHAOS_SEED
          : chaosNumber("seed", "--seed", values.seed),
      };
    }
    addresses = resolveLoadOptions(options).addresses;
  } catch (error) {
    if (
      error instanceof UsageError || error instanceof TypeError || error instanceof RangeError ||
      (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      console.error(styleText("red", `error: ${(error as Error).message}`));
      console.error("Run with --help for usage.");
      return 2;
    }
    throw error;
  }

  // With --json, standard output carries the JSON alone; people read standard error.
  const human = json ? Deno.stderr : Deno.stdout;
  const terminal = human.isTerminal();
  const print = (line: string) => write(human, `${line}\n`);
  let progressShown = false;
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) Deno.exit(130);
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  const { chaos } = options;
  print(
    `stress: ${options.clients} clients, ${options.rooms} rooms, ${options.rate} Hz, ${options.duration} s of ${options.kind}s over ${
      options.transport === "udp" ? "UDP (unreliable)" : "TCP"
    } to ${options.host}:${options.port}${options.namespace}${
      addresses > 1 ? ` from ${addresses} source addresses (127.0.0.1-127.0.0.${addresses})` : ""
    }${
      chaos === undefined
        ? ""
        : `, through a relay cutting ${chaos.rate} connections/s (seed ${chaos.seed})`
    }`,
  );
  let report;
  try {
    report = await runLoad({
      ...options,
      progressInterval: terminal ? 500 : 2000,
      signal: controller.signal,
      onProgress: (progress) => {
        const line = formatProgress(progress);
        if (terminal) write(human, `\r${line}\x1b[K`);
        else print(line);
        progressShown = true;
      },
    });
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
  if (terminal && progressShown) write(human, "\n");
  print("");
  for (const line of formatSummary(report)) print(line);
  print("");
  print("latency histogram:");
  for (const line of formatHistogram(report.histogram)) print(`  ${line}`);
  print("");
  for (const line of formatErrors(report)) print(line);
  if (report.chaos !== undefined) {
    print("");
    for (const line of formatChaos(report)) print(line);
  }
  const rate = errorRate(report);
  const failures: string[] = [];
  if (rate > maxErrorRate) {
    failures.push(`error rate ${rate.toPrecision(3)} exceeds --max-error-rate ${maxErrorRate}`);
  }
  // Resumed sessions lose nothing and repeat nothing: with chaos that is the claim under test.
  if (report.chaos !== undefined && (report.lost > 0 || report.chaos.duplicates > 0)) {
    failures.push(
      `${report.lost} reliable messages lost and ${report.chaos.duplicates} duplicated under --chaos`,
    );
  }
  for (const failure of failures) print(styleText("red", `FAIL: ${failure}`));
  if (json) console.log(JSON.stringify(reportToJson(report)));
  return failures.length > 0 ? 1 : 0;
}

function formatProgress(p: LoadProgress): string {
  return `${
    (p.elapsed / 1000).toFixed(1).padStart(6)
  } s  connected ${p.connected}  failed ${p.failed}  sent ${p.sent}  received ${p.received}  msgs/s ${
    Math.round(p.msgsPerSecond)
  }  p50 ${formatMs(p.p50)}  p99 ${formatMs(p.p99)}${
    p.chaos === undefined
      ? ""
      : `  cuts ${p.chaos.cuts}  recovered ${p.chaos.recovered}  expired ${p.chaos.expired}`
  }`;
}

const encoder = new TextEncoder();

function write(stream: typeof Deno.stdout | typeof Deno.stderr, text: string): void {
  const bytes = encoder.encode(text);
  for (let done = 0; done < bytes.length;) done += stream.writeSync(bytes.subarray(done));
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
