/**
 * Runs the codec benchmark several times and prints a Markdown table of medians: per benchmark,
 * the median of its per-run average time, and the median of its per-run speed ratio against
 * msgpackr with records on, measured side by side in the same run. For docs/PERFORMANCE.md:
 * `deno task bench:report [runs]` (default 5 runs).
 */

interface BenchResult {
  group: string;
  name: string;
  results: { ok?: { avg: number } }[];
}

const runs = Number(Deno.args[0] ?? 5);
const bench = new URL("./codec_bench.ts", import.meta.url).pathname;
const times = new Map<string, number[]>();
const ratios = new Map<string, number[]>();
let header = "";

for (let run = 0; run < runs; run++) {
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["bench", "--json", "--allow-read", "--allow-env", bench],
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`deno bench failed with exit code ${code}`);
  const text = new TextDecoder().decode(stdout);
  const jsonStart = text.indexOf("{\n");
  header = text.slice(0, jsonStart).trim();
  const report = JSON.parse(text.slice(jsonStart)) as { benches: BenchResult[] };
  const avg = (bench: BenchResult) => bench.results[0]?.ok?.avg ?? NaN;
  for (const bench of report.benches) {
    const key = `${bench.group}\t${bench.name}`;
    times.set(key, [...(times.get(key) ?? []), avg(bench)]);
    const reference = report.benches.find((other) =>
      other.group === bench.group && other.name.startsWith("msgpackr") &&
      other.name.includes("records on")
    );
    if (reference !== undefined) {
      ratios.set(key, [...(ratios.get(key) ?? []), avg(reference) / avg(bench)]);
    }
  }
  console.error(`run ${run + 1} of ${runs} done`);
}

const median = (values: number[]) => {
  const sorted = values.toSorted((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

console.log(header);
console.log();
console.log(
  `${runs} runs. Median of each run's average; ratio = msgpackr (records on) time / this time, per run, median.`,
);
console.log();
console.log("| group | benchmark | median time/op | median ops/s | × msgpackr (records on) |");
console.log("| --- | --- | --- | --- | --- |");
const formatTime = (ns: number) =>
  ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(1)} ns`;
const formatRate = (ns: number) => {
  const perSecond = 1e9 / ns;
  return perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M` : `${Math.round(perSecond)}`;
};
for (const [key, values] of times) {
  const [group, name] = key.split("\t");
  const ns = median(values);
  const ratio = ratios.get(key);
  console.log(
    `| ${group} | ${name} | ${formatTime(ns)} | ${formatRate(ns)} | ${
      ratio === undefined ? "—" : median(ratio).toFixed(2)
    } |`,
  );
}
