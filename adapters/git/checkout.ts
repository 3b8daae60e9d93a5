/**
 * Safe git checkout of an exact commit. Every input is validated before git runs (commit SHA,
 * repository URL); positionals always follow `--`; a token is handed to git per invocation through
 * a credential helper reading an environment variable, so it never appears in the URL, in
 * `.git/config`, on a command line or in an error message.
 * @module
 */
import { resolve } from "node:path";
import { COMMIT_SHA_PATTERN } from "../../models/event.ts";
import { AphexError, usageError } from "../../models/errors.ts";
import { makeRedactor, type Redactor } from "../process/exec.ts";

/** Result of one git invocation. */
export interface GitResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Runs git with an argument vector (injected in tests to prove what ran). */
export type GitRunner = (
  args: string[],
  options: { cwd: string; env: Record<string, string> },
) => Promise<GitResult>;

/** The real git runner: `new Deno.Command("git", { args })`, no shell. */
export const runGit: GitRunner = async (args, options) => {
  const out = await new Deno.Command("git", {
    args,
    cwd: options.cwd,
    env: options.env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
};

/** Throws a usage error unless `sha` is a full lowercase 40-hex commit SHA. */
export function validateCommitSha(sha: string): string {
  if (!COMMIT_SHA_PATTERN.test(sha)) {
    throw usageError(
      `commit SHA ${
        JSON.stringify(sha.slice(0, 80))
      } is invalid: expected 40 lowercase hex characters`,
    );
  }
  return sha;
}

/** Options of {@linkcode validateRepoUrl}. */
export interface RepoUrlOptions {
  /** Accept `file://` URLs (tests with local repositories only). */
  allowFileUrls?: boolean;
}

const SCP_LIKE = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/-][A-Za-z0-9._~/+-]*$/;

/**
 * Throws a usage error unless `url` is an https or ssh repository URL (`https://…`, `ssh://…`
 * or `git@host:path`). Rejects `ext::` and other transports, `file://` (unless allowed), option
 * lookalikes starting with `-`, embedded credentials, whitespace and control characters.
 */
export function validateRepoUrl(url: string, options: RepoUrlOptions = {}): string {
  const shown = JSON.stringify(url.replace(/\/\/[^/@]*@/, "//***@").slice(0, 120));
  const reject = (why: string): never => {
    throw usageError(`repository URL ${shown} is not allowed: ${why}`);
  };
  if (url.length === 0) reject("it is empty");
  if (url.startsWith("-")) reject("it starts with '-'");
  // deno-lint-ignore no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(url)) reject("it contains whitespace or control characters");
  if (url.includes("::")) reject("git transport helpers (such as ext::) are not allowed");
  if (SCP_LIKE.test(url)) return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return reject(
      "expected https://host/owner/repo.git, ssh://git@host/owner/repo.git or git@host:owner/repo.git",
    );
  }
  switch (parsed.protocol) {
    case "https:":
      if (parsed.username || parsed.password) {
        reject("credentials must not be embedded in the URL (use APHEX_GITHUB_TOKEN)");
      }
      if (!parsed.hostname) reject("it has no host");
      return url;
    case "ssh:":
      if (parsed.password) reject("credentials must not be embedded in the URL");
      if (!parsed.hostname) reject("it has no host");
      return url;
    case "file:":
      if (options.allowFileUrls) return url;
      return reject("file:// URLs are only allowed in tests");
    default:
      return reject(
        `the ${parsed.protocol.replace(/:$/, "")} scheme is not allowed (use https or ssh)`,
      );
  }
}

/** Name of the variable that carries the token to git's credential helper. */
const TOKEN_VAR = "APHEX_GIT_CREDENTIAL_TOKEN";

/** Options of {@linkcode gitEnvironment}. */
export interface GitEnvironmentOptions {
  /** Token handed to git's credential helper for https remotes. */
  token?: string;
  /** Also allow the `file` transport (tests only). */
  allowFileUrls?: boolean;
}

const PASSED_TO_GIT = [
  "PATH",
  "HOME",
  "LANG",
  "LC_ALL",
  "TMPDIR",
  "SSH_AUTH_SOCK",
  "GIT_SSH_COMMAND",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "GIT_SSL_CAINFO",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
];

/**
 * The environment for one git invocation: no terminal prompts, no system config, only the https
 * and ssh transports (`GIT_ALLOW_PROTOCOL`, which also covers submodules and redirects), and —
 * when a token is given — a credential helper that reads it from an environment variable
 * (configured through `GIT_CONFIG_*` variables, never written to `.git/config`).
 */
export function gitEnvironment(
  base: Record<string, string | undefined>,
  options: GitEnvironmentOptions = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of PASSED_TO_GIT) {
    const value = base[name];
    if (value !== undefined) env[name] = value;
  }
  env.PATH ??= "/usr/local/bin:/usr/bin:/bin";
  env.GIT_TERMINAL_PROMPT = "0";
  env.GIT_CONFIG_NOSYSTEM = "1";
  env.GIT_ASKPASS = "/bin/false";
  env.SSH_ASKPASS = "/bin/false";
  env.GIT_ALLOW_PROTOCOL = options.allowFileUrls ? "https:ssh:file" : "https:ssh";
  const token = options.token;
  if (token) {
    env[TOKEN_VAR] = token;
    env.GIT_CONFIG_COUNT = "2";
    env.GIT_CONFIG_KEY_0 = "credential.helper";
    env.GIT_CONFIG_VALUE_0 = "";
    env.GIT_CONFIG_KEY_1 = "credential.helper";
    env.GIT_CONFIG_VALUE_1 =
      `!f() { test "$1" = get || exit 0; echo username=x-access-token; echo "password=$${TOKEN_VAR}"; }; f`;
  }
  return env;
}

/** How git reaches the remote: URL, branch, token, environment, runner (shared by every git call). */
export interface GitRemoteOptions {
  /** Repository URL (checkout: needed only when the workspace is not already at the commit). */
  repoUrl?: string;
  /** Branch (git ref) holding the commit, fetched when the server refuses to serve a bare SHA. */
  branch?: string;
  /** Token for https remotes (e.g. `APHEX_GITHUB_TOKEN`). */
  token?: string;
  /** Accept `file://` URLs (tests only). */
  allowFileUrls?: boolean;
  /** Environment git inherits from (PATH, HOME, SSH agent…). */
  env?: Record<string, string | undefined>;
  /** Git runner (tests inject a spy). */
  git?: GitRunner;
  /** Progress messages. */
  log?: (line: string) => void;
}

/** Inputs of {@linkcode checkoutCommit}. */
export interface CheckoutOptions extends GitRemoteOptions {
  /** Directory to check out into (created if missing). */
  workspace: string;
  /** Exact commit to check out. */
  commitSha: string;
}

/** What {@linkcode checkoutCommit} did. */
export interface CheckoutResult {
  /** Whether the workspace was already at the commit. */
  alreadyCheckedOut: boolean;
  /** `HEAD` after the checkout. */
  head: string;
}

const BRANCH_PATTERN = /^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,255}$/;

/**
 * Makes `workspace` a checkout of exactly `commitSha`. All inputs are validated before git runs;
 * git failures become an {@linkcode AphexError} with the token redacted.
 */
export async function checkoutCommit(options: CheckoutOptions): Promise<CheckoutResult> {
  const sha = validateCommitSha(options.commitSha);
  const url = options.repoUrl === undefined ? undefined : validateRepoUrl(options.repoUrl, options);
  const branch = options.branch?.replace(/^refs\/heads\//, "");
  if (branch !== undefined && !BRANCH_PATTERN.test(branch)) {
    throw usageError(`branch ${JSON.stringify(branch.slice(0, 80))} is not a valid branch name`);
  }
  const workspace = resolve(options.workspace);
  const git = options.git ?? runGit;
  const env = gitEnvironment(options.env ?? {}, {
    ...(options.token ? { token: options.token } : {}),
    ...(options.allowFileUrls ? { allowFileUrls: true } : {}),
  });
  const redact: Redactor = makeRedactor(options.token ? [options.token] : []);
  const log = options.log ?? (() => {});

  const current = await headOf(git, workspace, env);
  if (current === sha) {
    log(`workspace ${workspace} is already at ${sha}`);
    return { alreadyCheckedOut: true, head: sha };
  }
  if (url === undefined) {
    throw usageError(
      `workspace ${workspace} is not at commit ${sha} and no repository URL is known ` +
        "(pass --repo-url, set APHEX_REPO_URL or pipeline.github in the config)",
    );
  }
  const run = async (args: string[], what: string): Promise<GitResult> => {
    const result = await git(args, { cwd: workspace, env });
    if (result.code !== 0) {
      const detail = redact(result.stderr.trim().split("\n").slice(-5).join("\n"));
      throw new AphexError(`git ${what} failed (exit ${result.code}): ${detail}`);
    }
    return result;
  };
  await Deno.mkdir(workspace, { recursive: true });
  await run(["init", "--quiet", "--", workspace], "init");
  const added = await git(["remote", "add", "--", "origin", url], { cwd: workspace, env });
  if (added.code !== 0) await run(["remote", "set-url", "--", "origin", url], "remote set-url");
  log(`fetching ${sha} from ${redact(url)}`);
  const shallow = await git(
    ["fetch", "--quiet", "--no-tags", "--depth", "1", "--", "origin", sha],
    { cwd: workspace, env },
  );
  if (shallow.code !== 0) {
    log("the server refused a fetch by SHA; fetching the branch history instead");
    const refspec = branch ? [`+refs/heads/${branch}:refs/remotes/origin/${branch}`] : [];
    await run(["fetch", "--quiet", "--no-tags", "--", "origin", ...refspec], "fetch");
    const present = await git(["cat-file", "-e", `${sha}^{commit}`], { cwd: workspace, env });
    if (present.code !== 0) {
      throw new AphexError(`commit ${sha} was not found in ${redact(url)}`);
    }
  }
  await run([
    "-c",
    "advice.detachedHead=false",
    "checkout",
    "--quiet",
    "--force",
    "--detach",
    sha,
    "--",
  ], "checkout");
  const head = await headOf(git, workspace, env);
  if (head !== sha) throw new AphexError(`checkout ended at ${head ?? "nothing"}, expected ${sha}`);
  return { alreadyCheckedOut: false, head: sha };
}

/** `HEAD` of the repository whose top level is exactly `workspace`, or undefined. */
async function headOf(
  git: GitRunner,
  workspace: string,
  env: Record<string, string>,
): Promise<string | undefined> {
  try {
    const stat = await Deno.stat(workspace);
    if (!stat.isDirectory) throw usageError(`workspace ${workspace} is not a directory`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  const top = await git(["rev-parse", "--show-toplevel"], { cwd: workspace, env });
  if (top.code !== 0) return undefined;
  const [a, b] = await Promise.all([Deno.realPath(top.stdout.trim()), Deno.realPath(workspace)]);
  if (a !== b) return undefined;
  const head = await git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], {
    cwd: workspace,
    env,
  });
  return head.code === 0 ? head.stdout.trim() : undefined;
}
