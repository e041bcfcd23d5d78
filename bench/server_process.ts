/**
 * The server under benchmark as a direct child process (`Deno.execPath()`, so that the PID read
 * in /proc is the server's), and its CPU time, RSS and bytes written read from /proc.
 *
 * @module
 */

/** CPU time and memory of a process, from /proc. */
export interface ProcessSample {
  /** User CPU seconds. */
  readonly userS: number;
  /** Kernel CPU seconds. */
  readonly systemS: number;
  /** Resident set size, KiB. */
  readonly rssKb: number;
}

const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux

/**
 * Reads a process's CPU times and RSS.
 *
 * @param pid The process.
 * @returns The sample.
 */
export function sampleProcess(pid: number): ProcessSample {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name (which may hold spaces), from field 3 on.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const userS = Number(fields[11]) / CLOCK_TICKS;
  const systemS = Number(fields[12]) / CLOCK_TICKS;
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKb = Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? NaN);
  return { userS, systemS, rssKb };
}

/** A running server child. */
export interface ServerProcess extends AsyncDisposable {
  /** Its PID. */
  readonly pid: number;
  /** The port it listens on. */
  readonly port: number;
  /** Stops it (SIGTERM) and waits for it. */
  stop(): Promise<void>;
}

/**
 * Starts `deno task serve`'s server (cli/serve.ts) as a direct child on 127.0.0.1 and a free
 * port, and drains its log so that it never blocks on a full pipe.
 *
 * @param root The repository's root.
 * @param serveArgs More arguments for `cli/serve.ts` (such as `--send-tick 10`).
 * @returns The running server.
 */
export async function startServerProcess(
  root: URL,
  serveArgs: string[] = [],
): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "cli/serve.ts",
      "--port",
      "0",
      "--hostname",
      "127.0.0.1",
      ...serveArgs,
    ],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let port = 0;
  let pending = "";
  const deadline = performance.now() + 10_000;
  while (port === 0 && performance.now() < deadline) {
    const { value, done } = await lines.read();
    if (done) break;
    pending += value;
    port = Number(pending.match(/listening on [\d.]+:(\d+)/)?.[1] ?? 0);
  }
  if (port === 0) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error("The server did not start");
  }
  // Keep reading its log: a full pipe would stall the server.
  const draining = (async () => {
    while (!(await lines.read()).done);
  })();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Gone already.
    }
    await child.status;
    await draining;
  };
  return { pid: child.pid, port, stop, [Symbol.asyncDispose]: stop };
}
