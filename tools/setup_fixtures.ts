/**
 * Installs the fixture CDK app's dependencies (`tests/fixtures/cdk-app`, pinned by its
 * package-lock.json) when they are missing or older than the lockfile. `deno task test` runs it
 * first, so a fresh clone needs no other step. The tests that synthesize the fixture need Node.js
 * and npm, like the AWS CDK itself.
 *
 *   deno run --allow-read --allow-run --allow-env tools/setup_fixtures.ts
 * @module
 */
const app = new URL("../tests/fixtures/cdk-app/", import.meta.url).pathname;

async function mtime(path: string): Promise<number | undefined> {
  try {
    return (await Deno.stat(path)).mtime?.getTime();
  } catch {
    return undefined;
  }
}

const lock = await mtime(`${app}package-lock.json`);
const installed = await mtime(`${app}node_modules/.package-lock.json`);
if (lock !== undefined && (installed === undefined || installed < lock)) {
  console.error(`installing the fixture CDK app's dependencies: npm ci --prefix ${app}`);
  let status;
  try {
    status = await new Deno.Command("npm", {
      args: ["ci", "--prefix", app, "--no-audit", "--no-fund", "--loglevel=error"],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
  } catch (e) {
    console.error(
      `error: npm not found (${e instanceof Error ? e.message : e}): the CDK fixture tests need ` +
        "Node.js and npm, like the AWS CDK itself",
    );
    Deno.exit(1);
  }
  if (!status.success) Deno.exit(status.code || 1);
}
