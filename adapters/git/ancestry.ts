/**
 * Git ancestry between the commit live in an environment and the commit about to deploy there
 * (`git merge-base --is-ancestor`), on the stage's own checkout. The pipeline checks out one
 * commit with `--depth 1`, so the live commit (and the history linking the two) is usually
 * missing: it is fetched first, unshallowing the checkout. Inputs are validated and git runs with
 * the same hardened environment as the checkout ({@linkcode gitEnvironment}).
 * @module
 */
import { resolve } from "node:path";
import { AphexError } from "../../models/errors.ts";
import { makeRedactor } from "../process/exec.ts";
import {
  gitEnvironment,
  type GitRemoteOptions,
  runGit,
  validateCommitSha,
  validateRepoUrl,
} from "./checkout.ts";

/**
 * How `candidate` relates to `live`: `same` commit; `newer` (live is an ancestor of candidate:
 * a normal forward deploy); `older` (candidate is an ancestor of live: deploying it would roll the
 * environment back); `diverged` (neither: a force-push rewrote history, or the live commit no
 * longer exists in the repository).
 */
export type CommitRelation = "same" | "newer" | "older" | "diverged";

/**
 * Options of {@linkcode commitRelation}: how git reaches the remote (default: the checkout's
 * `origin`) to fetch the live commit.
 */
export type AncestryOptions = GitRemoteOptions;

/** What {@linkcode commitRelation} found. */
export interface CommitRelationResult {
  /** The relation. */
  relation: CommitRelation;
  /** Why `diverged` was decided without comparing histories (live commit not found). */
  note?: string;
}

/**
 * Decides how `candidate` (checked out in `workspace`) relates to `live`, fetching the live
 * commit and unshallowing the checkout when needed.
 *
 * @throws {AphexError} when git fails for another reason than a missing commit.
 */
export async function commitRelation(
  workspace: string,
  commits: { live: string; candidate: string },
  options: AncestryOptions = {},
): Promise<CommitRelationResult> {
  const live = validateCommitSha(commits.live);
  const candidate = validateCommitSha(commits.candidate);
  if (live === candidate) return { relation: "same" };
  const url = options.repoUrl === undefined ? undefined : validateRepoUrl(options.repoUrl, options);
  const cwd = resolve(workspace);
  const git = options.git ?? runGit;
  const env = gitEnvironment(options.env ?? {}, {
    ...(options.token ? { token: options.token } : {}),
    ...(options.allowFileUrls ? { allowFileUrls: true } : {}),
  });
  const redact = makeRedactor(options.token ? [options.token] : []);
  const log = options.log ?? (() => {});
  const run = (args: string[]) => git(args, { cwd, env });
  const has = async (sha: string) => (await run(["cat-file", "-e", `${sha}^{commit}`])).code === 0;

  const shallow = (await run(["rev-parse", "--is-shallow-repository"])).stdout.trim() === "true";
  // The checkout holds `candidate` or `live`; the other one (and, in a shallow checkout, the
  // history between them) is fetched: --unshallow fetches the whole history.
  const missing = [];
  for (const sha of [live, candidate]) if (!(await has(sha))) missing.push(sha);
  if (shallow || missing.length > 0) {
    const remote = url ?? "origin";
    const deepen = shallow ? ["--unshallow"] : [];
    const wanted = missing.length > 0 ? missing : [live];
    log(`fetching ${wanted.join(", ")}${shallow ? " and the history (unshallow)" : ""}`);
    const bySha = await run(["fetch", "--quiet", "--no-tags", ...deepen, "--", remote, ...wanted]);
    if (bySha.code !== 0) {
      const branch = options.branch?.replace(/^refs\/heads\//, "");
      const refspec = branch ? [`+refs/heads/${branch}:refs/remotes/origin/${branch}`] : [];
      const byBranch = await run([
        "fetch",
        "--quiet",
        "--no-tags",
        ...deepen,
        "--",
        remote,
        ...refspec,
      ]);
      if (byBranch.code !== 0) {
        const detail = redact(byBranch.stderr.trim().split("\n").slice(-3).join("\n"));
        throw new AphexError(`git fetch of ${wanted.join(", ")} failed: ${detail}`);
      }
    }
    for (const sha of [live, candidate]) {
      if (!(await has(sha))) {
        return {
          relation: "diverged",
          note: `commit ${sha} is not in the repository any more (history rewritten)`,
        };
      }
    }
  }
  const isAncestor = async (a: string, b: string): Promise<boolean> => {
    const r = await run(["merge-base", "--is-ancestor", a, b]);
    if (r.code === 0) return true;
    if (r.code === 1) return false;
    throw new AphexError(
      `git merge-base --is-ancestor ${a} ${b} failed (exit ${r.code}): ${redact(r.stderr.trim())}`,
    );
  };
  if (await isAncestor(live, candidate)) return { relation: "newer" };
  if (await isAncestor(candidate, live)) return { relation: "older" };
  return { relation: "diverged" };
}
