/**
 * Derives the AWS API calls the pipeline's stages make from their source: the stage commands the
 * generated WorkflowTemplates run (`command: [aphex]`, `args: [<stage>]`), the module each command
 * loads (`cli/main.ts`), every local module those reach (`deno info --json`, dynamic imports
 * included), and in each module the `*Command` classes of the `@aws-sdk/client-*` packages it
 * imports; uploads through `@aws-sdk/lib-storage` add the S3 commands lib-storage's own source
 * sends. Calls are named `<client>.<operation>` (`S3.GetObject`), as in `PIPELINE_API_GRANTS`.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import denoJson from "../../deno.json" with { type: "json" };

export const ROOT = new URL("../..", import.meta.url).pathname;

/** One source file: repository-relative path and text. */
export interface SourceFile {
  path: string;
  text: string;
}

/** The stage commands the generated WorkflowTemplates run. */
export async function podStageCommands(): Promise<string[]> {
  const commands = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== "object" || node === null) return;
    const o = node as Record<string, unknown>;
    if (Array.isArray(o.command) && o.command.length === 1 && o.command[0] === "aphex") {
      commands.add(String((o.args as unknown[])[0]));
    }
    Object.values(o).forEach(visit);
  };
  for await (const entry of Deno.readDir(join(ROOT, "manifests"))) {
    if (!entry.name.endsWith(".yaml")) continue;
    const text = await readFile(join(ROOT, "manifests", entry.name), "utf8");
    for (const doc of parseAllDocuments(text)) visit(doc.toJS());
  }
  return [...commands].sort();
}

/** The module `cli/main.ts` loads for each command. */
export async function commandModules(): Promise<Map<string, string>> {
  const text = await readFile(join(ROOT, "cli", "main.ts"), "utf8");
  const modules = new Map<string, string>();
  const entry = /(?:"([a-z-]+)"|([a-z]+)):\s*\{[^{}]*?load: \(\) => import\("([^"]+)"\)/g;
  for (const m of text.matchAll(entry)) {
    modules.set(m[1] ?? m[2]!, join("cli", m[3]!));
  }
  return modules;
}

interface Info {
  modules: { specifier: string; local?: string }[];
}

/** Every local module (outside tests) reachable from `entries`, dynamic imports included. */
export async function reachableSources(entries: string[]): Promise<SourceFile[]> {
  const files = new Map<string, string>();
  for (const entry of entries) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
    const info: Info = JSON.parse(new TextDecoder().decode(out.stdout));
    for (const m of info.modules) {
      if (!m.specifier.startsWith("file://")) continue;
      const path = new URL(m.specifier).pathname.slice(ROOT.length);
      if (path.endsWith(".json") || path.startsWith("tests/")) continue;
      files.set(path, await readFile(join(ROOT, path), "utf8"));
    }
  }
  return [...files].sort().map(([path, text]) => ({ path, text }));
}

/** The source files of the stages that run in the pipeline's pods. */
export async function stageSources(): Promise<SourceFile[]> {
  const modules = await commandModules();
  const entries = (await podStageCommands()).map((c) => {
    const m = modules.get(c);
    if (!m) throw new Error(`no module for stage command ${c} in cli/main.ts`);
    return m;
  });
  return await reachableSources(entries);
}

const SDK_IMPORT = /["'](@aws-sdk\/(?:client-[a-z0-9-]+|lib-storage))["']/g;
const COMMAND = /\b([A-Z][A-Za-z0-9]*Command)\b/g;

/** A client package's exports, loaded through the import map. */
export type ExportsOf = (pkg: string) => Promise<Record<string, unknown>>;

const defaultExportsOf: ExportsOf = (pkg) => import(pkg);

/** The client name of a client package (`S3` for the package exporting `S3Client` and `S3`). */
function serviceOf(pkg: string, exports: Record<string, unknown>): string {
  const names = Object.keys(exports).filter((k) =>
    k.endsWith("Client") && k !== "Client" && typeof exports[k.slice(0, -6)] === "function"
  );
  if (names.length !== 1) throw new Error(`cannot name the client of ${pkg}: ${names.join(", ")}`);
  return names[0]!.slice(0, -6);
}

/**
 * The lib-storage S3 calls an upload makes. `PutObjectTagging` is sent only for uploads given
 * `tags` (checked in lib-storage's source); it counts when the caller passes `tags`.
 */
export async function libStorageCalls(callerText: string): Promise<string[]> {
  const version = denoJson.imports["@aws-sdk/lib-storage"].split("@").pop()!;
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
  })
    .output();
  const npmCache: string = JSON.parse(new TextDecoder().decode(info.stdout)).npmCache;
  // The cache keeps one folder per registry: find the one holding this version.
  let text: string | undefined;
  for await (const registry of Deno.readDir(npmCache)) {
    if (!registry.isDirectory) continue;
    const path = join(
      npmCache,
      registry.name,
      "@aws-sdk/lib-storage",
      version,
      "dist-es/Upload.js",
    );
    try {
      text = await readFile(path, "utf8");
      break;
    } catch {
      // not in this registry's folder
    }
  }
  if (text === undefined) {
    throw new Error(`@aws-sdk/lib-storage ${version} not found in ${npmCache}`);
  }
  const s3 = await import("@aws-sdk/client-s3") as Record<string, unknown>;
  const calls = new Set<string>();
  for (const m of text.matchAll(/new ([A-Z][A-Za-z0-9]*Command)\(/g)) {
    if (typeof s3[m[1]!] === "function") calls.add(`S3.${m[1]!.slice(0, -7)}`);
  }
  // AbortMultipartUploadCommand is built ahead and sent later (`send(this.abortMultipart...)`).
  if (/this\.client\.send\(this\.abortMultipartUploadCommand\)/.test(text)) {
    calls.add("S3.AbortMultipartUpload");
  }
  if (
    !/if \(this\.tags\.length\) \{\s*await this\.client\.send\(new PutObjectTaggingCommand/.test(
      text,
    )
  ) {
    throw new Error("lib-storage no longer gates PutObjectTagging on tags: review the grants");
  }
  if (!/\btags\s*:/.test(callerText)) calls.delete("S3.PutObjectTagging");
  return [...calls];
}

/** The AWS API calls in `files`, each with the files that make it. */
export async function sdkCalls(
  files: SourceFile[],
  exportsOf: ExportsOf = defaultExportsOf,
): Promise<Map<string, string[]>> {
  const calls = new Map<string, string[]>();
  const add = (call: string, path: string) =>
    calls.set(call, [...new Set([...(calls.get(call) ?? []), path])]);
  for (const file of files) {
    const packages = new Set([...file.text.matchAll(SDK_IMPORT)].map((m) => m[1]!));
    const idents = new Set([...file.text.matchAll(COMMAND)].map((m) => m[1]!));
    for (const pkg of packages) {
      if (pkg === "@aws-sdk/lib-storage") {
        for (const call of await libStorageCalls(file.text)) add(call, file.path);
        continue;
      }
      let exports: Record<string, unknown>;
      try {
        exports = await exportsOf(pkg);
      } catch {
        // A client this checker cannot load is a call nobody reviewed.
        add(`${pkg}.?`, file.path);
        continue;
      }
      const service = serviceOf(pkg, exports);
      for (const ident of idents) {
        if (typeof exports[ident] === "function") {
          add(`${service}.${ident.slice(0, -7)}`, file.path);
        }
      }
    }
  }
  return calls;
}

/** The CDK bootstrap role kinds (`deploy`, `lookup`, …) the stages assume themselves. */
export function bootstrapRolesAssumedBySource(files: SourceFile[]): string[] {
  const kinds = new Set<string>();
  for (const file of files) {
    // `bootstrapDeployRoleArn(...)` called (not only defined) outside its own module.
    if (
      /[^\w]bootstrapDeployRoleArn\(/.test(
        file.text.replace(/function bootstrapDeployRoleArn\(/g, ""),
      )
    ) {
      kinds.add("deploy");
    }
  }
  return [...kinds];
}

/** Set difference both ways: calls without a grant, grants nobody uses. */
export function compareGrants(
  derived: Iterable<string>,
  granted: Iterable<string>,
): { missing: string[]; unused: string[] } {
  const d = new Set(derived);
  const g = new Set(granted);
  return {
    missing: [...d].filter((c) => !g.has(c)).sort(),
    unused: [...g].filter((c) => !d.has(c)).sort(),
  };
}
