/**
 * Writes the manifests of every table configuration (see `generate_table.ts`) into
 * `<dir>/<case>/` so CI can validate them with the official schemas:
 *
 * ```sh
 * deno run --allow-read --allow-write tests/generate_fixtures.ts /tmp/aphex-table && \
 *   ../shared/bin/validate-argo /tmp/aphex-table
 * ```
 * @module
 */
import { join } from "node:path";
import { generateManifests } from "../templates/generate.ts";
import { configTable } from "./generate_table.ts";

/** Writes every table case's manifests under `dir`; returns the files written. */
export async function writeTableManifests(dir: string): Promise<string[]> {
  const written: string[] = [];
  for (const [name, config] of Object.entries(configTable())) {
    const caseDir = join(dir, name);
    await Deno.mkdir(caseDir, { recursive: true });
    for (const f of generateManifests(config)) {
      const path = join(caseDir, f.file);
      await Deno.writeTextFile(path, f.text);
      written.push(path);
    }
  }
  return written;
}

if (import.meta.main) {
  const dir = Deno.args[0];
  if (!dir) {
    console.error("usage: deno run --allow-read --allow-write tests/generate_fixtures.ts DIR");
    Deno.exit(2);
  }
  const files = await writeTableManifests(dir);
  console.log(`wrote ${files.length} files under ${dir}`);
}
