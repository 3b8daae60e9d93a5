/**
 * Test helper: creates a local git repository with given files and commits, for checkout tests.
 * @module
 */

/** Environment for deterministic, isolated git commands in tests. */
export function testGitEnv(home: string): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: home,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "Aphex Test",
    GIT_AUTHOR_EMAIL: "test@example.invalid",
    GIT_COMMITTER_NAME: "Aphex Test",
    GIT_COMMITTER_EMAIL: "test@example.invalid",
  };
}

async function git(args: string[], cwd: string, env: Record<string, string>): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd, env, clearEnv: true }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) {
    throw new Error(`git ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text.trim();
}

/** A repository made by {@linkcode makeRepo}. */
export interface TestRepo {
  /** Repository directory. */
  dir: string;
  /** Commit SHAs in order. */
  commits: string[];
  /** `file://` URL of the repository. */
  url: string;
}

/**
 * Creates a repository in a new directory under `root` with one commit per entry of `commits`
 * (each a map of path → content written before committing).
 */
export async function makeRepo(
  root: string,
  commits: Record<string, string>[],
): Promise<TestRepo> {
  const dir = `${root}/origin`;
  await Deno.mkdir(dir, { recursive: true });
  const env = testGitEnv(root);
  await git(["init", "--quiet", "--initial-branch=main", "--", dir], root, env);
  const shas: string[] = [];
  for (const [i, files] of commits.entries()) {
    for (const [path, content] of Object.entries(files)) {
      const full = `${dir}/${path}`;
      await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(full, content);
    }
    await git(["add", "--all"], dir, env);
    await git(["commit", "--quiet", "-m", `commit ${i + 1}`], dir, env);
    shas.push(await git(["rev-parse", "HEAD"], dir, env));
  }
  return { dir, commits: shas, url: `file://${dir}` };
}
