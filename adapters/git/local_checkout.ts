/**
 * The local checkout `aphex run --local` works on: its HEAD and whether the tree is dirty, and,
 * when asked, a detached checkout of a commit that exists locally (never over uncommitted work).
 * @module
 */
import { AphexError, describeError, firstLine, usageError } from "../../models/errors.ts";
import { gitEnvironment, type GitRunner, runGit, validateCommitSha } from "./checkout.ts";

async function git(
  runner: GitRunner,
  args: string[],
  options: { cwd: string; env: Record<string, string> },
): Promise<string> {
  const result = await runner(args, options);
  if (result.code !== 0) {
    throw new AphexError(
      `git ${args[0]} failed in ${options.cwd} (exit ${result.code}): ${
        firstLine(result.stderr) || "no message"
      }`,
    );
  }
  return result.stdout.trim();
}

/**
 * HEAD of the workspace and whether its tree is dirty (untracked files count; `.aphex/` is
 * ignored). With `commitSha`, checks that commit out first (detached HEAD, refused on a dirty tree,
 * the commit must exist locally).
 *
 * @throws {AphexError} exit 2 when the workspace is not the top of a git work tree, the commit is
 * unknown or the tree is dirty while a checkout was asked for.
 */
export async function prepareWorkspace(
  workspace: string,
  options: {
    env: Record<string, string | undefined>;
    commitSha?: string;
    git?: GitRunner;
    log: (line: string) => void;
  },
): Promise<{ head: string; dirty: boolean; changes: number }> {
  const runner = options.git ?? runGit;
  const env = gitEnvironment(options.env);
  const at = { cwd: workspace, env };
  let top: string;
  try {
    top = await git(runner, ["rev-parse", "--show-toplevel"], at);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw usageError(`workspace ${workspace} not found`);
    throw usageError(
      `workspace ${workspace} is not a git repository: aphex run --local runs a ` +
        `commit of a checkout (${describeError(e)})`,
    );
  }
  const [a, b] = await Promise.all([Deno.realPath(top), Deno.realPath(workspace)]);
  if (a !== b) {
    throw usageError(
      `workspace ${workspace} is not the top of its git repository (${top}); pass --workspace ${top}`,
    );
  }
  const status = async () => {
    const text = await git(
      runner,
      ["status", "--porcelain", "--untracked-files=normal", "--", ".", ":(exclude).aphex"],
      at,
    );
    return text === "" ? 0 : text.split("\n").length;
  };
  const head = async () => {
    try {
      return await git(runner, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], at);
    } catch {
      throw usageError(`workspace ${workspace} has no commit yet; commit something first`);
    }
  };
  let changes = await status();
  if (options.commitSha) {
    const sha = validateCommitSha(options.commitSha);
    const current = await head();
    if (current !== sha) {
      if (changes > 0) {
        throw usageError(
          `--commit-sha ${sha}: the work tree has ${changes} uncommitted change(s); commit or ` +
            "stash them first (a local run never discards changes)",
        );
      }
      const known = await runner(["cat-file", "-e", `${sha}^{commit}`], at);
      if (known.code !== 0) {
        throw usageError(`commit ${sha} is not in the local repository; git fetch it first`);
      }
      await git(
        runner,
        ["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", sha, "--"],
        at,
      );
      options.log(
        `[run] checked out ${sha} (detached HEAD; it was ${current}); ` +
          "`git switch -` returns to where you were",
      );
      changes = await status();
    }
  }
  return { head: await head(), dirty: changes > 0, changes };
}
