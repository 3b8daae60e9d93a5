import assert from "node:assert/strict";
import fc from "fast-check";
import { AphexError } from "../../models/errors.ts";
import {
  checkoutCommit,
  gitEnvironment,
  type GitRunner,
  runGit,
  validateCommitSha,
  validateRepoUrl,
} from "./checkout.ts";
import { makeRepo, testGitEnv } from "../../tests/stages/_git_repo.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const TOKEN = "ghp_SuperSecretToken0123456789abcdef";

/** A git runner that records every call and fails the test if git would run. */
function spy(): { git: GitRunner; calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    git: (args) => {
      calls.push(args);
      return Promise.resolve({ code: 128, stdout: "", stderr: "spy" });
    },
  };
}

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "aphex-checkout-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("hostile inputs are rejected before git runs", async () => {
  const hostile: { repoUrl?: string; commitSha: string; branch?: string }[] = [
    { repoUrl: "--upload-pack=touch /tmp/pwned", commitSha: SHA },
    { repoUrl: "-uhttps://github.com/a/b.git", commitSha: SHA },
    { repoUrl: "ext::sh -c touch% /tmp/pwned", commitSha: SHA },
    { repoUrl: "ext::sh", commitSha: SHA },
    { repoUrl: "file:///etc", commitSha: SHA },
    { repoUrl: "http://github.com/a/b.git", commitSha: SHA },
    { repoUrl: "https://user:pass@github.com/a/b.git", commitSha: SHA },
    { repoUrl: "https://github.com/a/b.git\n--upload-pack=x", commitSha: SHA },
    { repoUrl: "fd::17", commitSha: SHA },
    { repoUrl: "https://github.com/a/b.git", commitSha: `${SHA.slice(0, 39)};` },
    { repoUrl: "https://github.com/a/b.git", commitSha: "$(touch /tmp/pwned)" },
    { repoUrl: "https://github.com/a/b.git", commitSha: `${SHA.slice(0, 30)}\`id\`;|&` },
    { repoUrl: "https://github.com/a/b.git", commitSha: SHA.slice(0, 39) },
    { repoUrl: "https://github.com/a/b.git", commitSha: SHA.toUpperCase() },
    { repoUrl: "https://github.com/a/b.git", commitSha: `--${SHA.slice(2)}` },
    { repoUrl: "https://github.com/a/b.git", commitSha: SHA, branch: "--orphan" },
  ];
  for (const input of hostile) {
    const { git, calls } = spy();
    await assert.rejects(
      checkoutCommit({ workspace: "/nonexistent/ws", ...input, git, env: {} }),
      (e: unknown) => e instanceof AphexError && e.exitCode === 2,
      JSON.stringify(input),
    );
    assert.deepEqual(calls, [], `git ran for ${JSON.stringify(input)}`);
  }
});

Deno.test("URL validation: accepted forms; SHA validation (property)", () => {
  for (
    const url of [
      "https://github.com/example-org/webshop.git",
      "ssh://git@github.com/example-org/webshop.git",
      "git@github.com:example-org/webshop.git",
    ]
  ) assert.equal(validateRepoUrl(url), url);
  assert.equal(validateRepoUrl("file:///tmp/x", { allowFileUrls: true }), "file:///tmp/x");
  assert.throws(() => validateRepoUrl("file:///tmp/x"), /only allowed in tests/);
  fc.assert(fc.property(fc.string(), (s) => {
    const ok = /^[0-9a-f]{40}$/.test(s);
    try {
      validateCommitSha(s);
      assert.ok(ok);
    } catch (e) {
      assert.ok(!ok && e instanceof AphexError && e.exitCode === 2);
    }
  }));
  fc.assert(fc.property(fc.string(), (s) => {
    assert.throws(() => validateRepoUrl(`-${s}`));
    assert.throws(() => validateRepoUrl(`ext::${s}`));
  }));
});

Deno.test("checkout of an exact SHA from a local repository (file:// only with the test option)", async () => {
  await withTemp(async (root) => {
    const repo = await makeRepo(root, [
      { "README.md": "one\n" },
      { "README.md": "two\n", "src/app.txt": "app\n" },
      { "README.md": "three\n" },
    ]);
    const ws = `${root}/ws`;
    const env = testGitEnv(root);
    // Without the option, file:// is refused before git runs.
    await assert.rejects(
      checkoutCommit({ workspace: ws, commitSha: repo.commits[1]!, repoUrl: repo.url, env }),
      /only allowed in tests/,
    );
    const calls: string[][] = [];
    const git: GitRunner = (args, o) => {
      calls.push(args);
      return runGit(args, o);
    };
    const first = await checkoutCommit({
      workspace: ws,
      commitSha: repo.commits[1]!,
      repoUrl: repo.url,
      allowFileUrls: true,
      env,
      git,
    });
    assert.deepEqual(first, { alreadyCheckedOut: false, head: repo.commits[1] });
    assert.equal(await Deno.readTextFile(`${ws}/README.md`), "two\n");
    assert.equal(await Deno.readTextFile(`${ws}/src/app.txt`), "app\n");
    // Every git invocation put `--` before positionals taken from input.
    for (const args of calls) {
      const urlAt = args.indexOf(repo.url);
      if (urlAt >= 0) {
        assert.ok(args.indexOf("--") >= 0 && args.indexOf("--") < urlAt, args.join(" "));
      }
    }
    // Already at the commit: nothing fetched.
    const again = await checkoutCommit({ workspace: ws, commitSha: repo.commits[1]!, env });
    assert.equal(again.alreadyCheckedOut, true);
    // Move the same workspace to another commit.
    const moved = await checkoutCommit({
      workspace: ws,
      commitSha: repo.commits[0]!,
      repoUrl: repo.url,
      allowFileUrls: true,
      env,
    });
    assert.equal(moved.head, repo.commits[0]);
    assert.equal(await Deno.readTextFile(`${ws}/README.md`), "one\n");
    // A SHA that does not exist fails with exit 1 and a git message.
    await assert.rejects(
      checkoutCommit({
        workspace: ws,
        commitSha: "f".repeat(40),
        repoUrl: repo.url,
        allowFileUrls: true,
        env,
      }),
      (e: unknown) =>
        e instanceof AphexError && e.exitCode === 1 && /was not found in file:/.test(e.message),
    );
  });
});

Deno.test("a token never appears in output, errors or .git/config", async () => {
  await withTemp(async (root) => {
    const repo = await makeRepo(root, [{ "a.txt": "a\n" }]);
    const ws = `${root}/ws`;
    const logs: string[] = [];
    const env = testGitEnv(root);
    const calls: { args: string[]; env: Record<string, string> }[] = [];
    const git: GitRunner = (args, o) => {
      calls.push({ args, env: o.env });
      return runGit(args, o);
    };
    await checkoutCommit({
      workspace: ws,
      commitSha: repo.commits[0]!,
      repoUrl: repo.url,
      allowFileUrls: true,
      token: TOKEN,
      env,
      git,
      log: (l) => logs.push(l),
    });
    assert.ok(!logs.join("\n").includes(TOKEN));
    for (const c of calls) assert.ok(!c.args.join(" ").includes(TOKEN), "token on a command line");
    const gitConfig = await Deno.readTextFile(`${ws}/.git/config`);
    assert.ok(!gitConfig.includes(TOKEN));
    assert.ok(!gitConfig.includes("credential"));
    // The per-invocation helper does hand the token to git for an https remote.
    const fill = await new Deno.Command("git", {
      args: ["credential", "fill"],
      env: gitEnvironment(env, { token: TOKEN }),
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = fill.stdin.getWriter();
    await writer.write(new TextEncoder().encode("protocol=https\nhost=github.com\n\n"));
    await writer.close();
    const filled = await fill.output();
    assert.match(new TextDecoder().decode(filled.stdout), new RegExp(`password=${TOKEN}`));
    // A failing fetch (git echoing the token back) yields a redacted error message.
    const echoing: GitRunner = (args, o) =>
      args[0] === "fetch"
        ? Promise.resolve({ code: 128, stdout: "", stderr: `fatal: auth failed for ${TOKEN}\n` })
        : runGit(args, o);
    await assert.rejects(
      checkoutCommit({
        workspace: `${root}/ws2`,
        commitSha: repo.commits[0]!,
        repoUrl: "https://github.com/example-org/webshop.git",
        token: TOKEN,
        env,
        git: echoing,
      }),
      (e: unknown) => e instanceof Error && !e.message.includes(TOKEN) && /\*\*\*/.test(e.message),
    );
  });
});

Deno.test("git runs with only the https and ssh transports unless file:// is allowed", async () => {
  await withTemp(async (root) => {
    const repo = await makeRepo(root, [{ "a.txt": "a\n" }]);
    const base = testGitEnv(root);
    const lsRemote = (allowFileUrls: boolean) =>
      runGit(["ls-remote", "--", repo.url], {
        cwd: root,
        env: gitEnvironment(base, { allowFileUrls }),
      });
    const refused = await lsRemote(false);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /transport 'file' not allowed/);
    const allowed = await lsRemote(true);
    assert.equal(allowed.code, 0);
    assert.match(allowed.stdout, new RegExp(repo.commits[0]!));
    assert.equal(gitEnvironment(base).GIT_TERMINAL_PROMPT, "0");
  });
});
