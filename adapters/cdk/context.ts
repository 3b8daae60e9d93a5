/**
 * The context a CDK app sees from its files: `cdk.json` `context` overlaid with `cdk.context.json`.
 * @module
 */
import { join } from "node:path";
import { CDK_JSON } from "./app_dir.ts";

/** Reads the context of a CDK app: `cdk.json` `context` overlaid with `cdk.context.json`. */
export async function readCdkContext(appDir: string): Promise<Record<string, unknown>> {
  const context: Record<string, unknown> = {};
  for (
    const [file, pick] of [
      [CDK_JSON, (doc: Record<string, unknown>) => doc.context],
      ["cdk.context.json", (doc: Record<string, unknown>) => doc],
    ] as const
  ) {
    let text: string;
    try {
      text = await Deno.readTextFile(join(appDir, file));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new Error(`${join(appDir, file)} is not valid JSON`);
    }
    const part = typeof doc === "object" && doc !== null
      ? pick(doc as Record<string, unknown>)
      : {};
    if (typeof part === "object" && part !== null) Object.assign(context, part);
  }
  return context;
}
