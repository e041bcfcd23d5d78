/**
 * README's server and client examples (and its other `ts ignore` blocks, which cannot run in a
 * doc test because they listen on fixed ports or need files) are type-checked against the code,
 * and the server and client stay under 30 lines each.
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

function ignoredBlocks(markdown: string): { heading: string; code: string }[] {
  const blocks: { heading: string; code: string }[] = [];
  let heading = "";
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith("#")) heading = line.replace(/^#+\s*/, "");
    if (line.trim() !== "```ts ignore") continue;
    const code: string[] = [];
    for (i++; i < lines.length && lines[i]!.trim() !== "```"; i++) code.push(lines[i]!);
    blocks.push({ heading, code: code.join("\n") + "\n" });
  }
  return blocks;
}

const readme = await Deno.readTextFile(new URL("README.md", ROOT));
const blocks = ignoredBlocks(readme);

Deno.test("README shows a server and a client in under 30 lines each", () => {
  for (const heading of ["A server", "A client"]) {
    const block = blocks.find((b) => b.heading === heading);
    assert.ok(block, `README has no "${heading}" example`);
    const lines = block.code.trimEnd().split("\n").length;
    assert.ok(lines < 30, `"${heading}" has ${lines} lines`);
  }
});

Deno.test("README's examples that cannot run as doc tests type-check", async () => {
  assert.ok(blocks.length >= 4, `only ${blocks.length} blocks found`);
  const dir = await Deno.makeTempDir({ prefix: "readme_examples_" });
  try {
    const files: string[] = [];
    for (const [i, block] of blocks.entries()) {
      const file = `${dir}/example_${i}.ts`;
      await Deno.writeTextFile(file, `export {};\n${block.code}`);
      files.push(file);
    }
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "--config", new URL("deno.json", ROOT).pathname, ...files],
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
