import assert from "node:assert/strict";
import type { applyDefaults } from "./config.ts";
import { closest, MAX_CONFIG_BYTES, parseConfig, parseConfigOrThrow } from "./config_parse.ts";
import { AphexError, formatIssue } from "./errors.ts";

/** A minimal valid config; cases splice lines into it. */
const BASE = `version: "1.0"
build:
  commands:
    - make
environments:
  - name: dev
    region: us-east-1
    account: "123456789012"
    stacks:
      - name: App
        path: lib/app.ts
`;

function replaceLine(text: string, line: number, content: string): string {
  const lines = text.split("\n");
  lines[line - 1] = content;
  return lines.join("\n");
}

interface BadCase {
  name: string;
  text: string;
  /** Expected `line:col: path: message` prefix of one reported issue. */
  expect: string;
}

const withEnv = (extra: string) => BASE + extra;

const BAD: BadCase[] = [
  { name: "empty file", text: "", expect: "1:1: the file is empty" },
  { name: "only comments", text: "# nothing\n", expect: "1:1: the file is empty" },
  {
    name: "version unquoted number",
    text: replaceLine(BASE, 1, "version: 1.0"),
    expect:
      '1:10: version: must be "1.0"; YAML read the unquoted 1.0 as the number 1 — quote it: "1.0"',
  },
  {
    name: "wrong version",
    text: replaceLine(BASE, 1, 'version: "2.0"'),
    expect: '1:10: version: must be "1.0"',
  },
  {
    name: "missing version",
    text: BASE.split("\n").slice(1).join("\n"),
    expect: "1:1: version: is required",
  },
  {
    name: "unknown top-level key with suggestion",
    text: BASE + "enviroment: x\n",
    expect: '12:1: enviroment: unknown key "enviroment"; did you mean "environments"?',
  },
  {
    name: "build.commands empty",
    text: replaceLine(replaceLine(BASE, 3, "  commands: []"), 4, ""),
    expect: "3:13: build.commands: must list at least one command",
  },
  {
    name: "build command blank",
    text: replaceLine(BASE, 4, '    - "   "'),
    expect: "4:7: build.commands[0]: must be a non-empty command string",
  },
  {
    name: "build command is a number",
    text: replaceLine(BASE, 4, "    - 42"),
    expect: "4:7: build.commands[0]: must be a non-empty command string; YAML read the unquoted 42",
  },
  {
    name: "build.artifacts absolute",
    text: BASE.replace("build:\n", "build:\n  artifacts: /etc\n"),
    expect: "3:14: build.artifacts: must be a directory relative to the repository root",
  },
  {
    name: "build artifact typo",
    text: BASE.replace("build:\n", "build:\n  artifact: dist\n"),
    expect: '3:3: build.artifact: unknown key "artifact"; did you mean "artifacts"?',
  },
  {
    name: "environments empty",
    text: BASE.split("\n").slice(0, 4).join("\n") + "\nenvironments: []\n",
    expect: "5:15: environments: must list at least one environment",
  },
  {
    name: "env name uppercase",
    text: replaceLine(BASE, 6, "  - name: Dev"),
    expect: "6:11: environments[0].name: must be a lowercase DNS label of at most 40 characters",
  },
  {
    name: "env name too long",
    text: replaceLine(BASE, 6, `  - name: ${"a".repeat(41)}`),
    expect: "6:11: environments[0].name: must be a lowercase DNS label of at most 40 characters",
  },
  {
    name: "region without number",
    text: replaceLine(BASE, 7, "    region: us-east"),
    expect: "7:13: environments[0].region: must be an AWS region",
  },
  {
    name: "region made up",
    text: replaceLine(BASE, 7, "    region: moon-east-1"),
    expect: "7:13: environments[0].region: must be an AWS region",
  },
  {
    name: "account unquoted",
    text: replaceLine(BASE, 8, "    account: 123456789012"),
    expect:
      "8:14: environments[0].account: must be a quoted 12-digit string; YAML read the unquoted " +
      '123456789012 as the number 123456789012 — quote it: "123456789012"',
  },
  {
    name: "account unquoted with a leading zero loses a digit",
    text: replaceLine(BASE, 8, "    account: 012345678901"),
    expect:
      "8:14: environments[0].account: must be a quoted 12-digit string; YAML read the unquoted " +
      '012345678901 as the number 12345678901 — quote it: "012345678901"',
  },
  {
    name: "account 11 digits",
    text: replaceLine(BASE, 8, '    account: "12345678901"'),
    expect: "8:14: environments[0].account: must be a quoted 12-digit string",
  },
  {
    name: "account with letters",
    text: replaceLine(BASE, 8, '    account: "12345678901a"'),
    expect: "8:14: environments[0].account: must be a quoted 12-digit string",
  },
  {
    name: "stacks misspelled as stack",
    text: replaceLine(BASE, 9, "    stack:"),
    expect: '9:5: environments[0].stack: unknown key "stack"; did you mean "stacks"?',
  },
  {
    name: "stacks missing reported at the environment",
    text: BASE.split("\n").slice(0, 8).join("\n") + "\n",
    expect: "6:5: environments[0].stacks: is required",
  },
  {
    name: "stack name starts with digit",
    text: replaceLine(BASE, 10, "      - name: 1App"),
    expect: "10:15: environments[0].stacks[0].name: must be a CloudFormation stack name",
  },
  {
    name: "stack name with underscore",
    text: replaceLine(BASE, 10, "      - name: My_App"),
    expect: "10:15: environments[0].stacks[0].name: must be a CloudFormation stack name",
  },
  {
    name: "stack path escapes the repository",
    text: replaceLine(BASE, 11, "        path: ../other/app.ts"),
    expect: "11:15: environments[0].stacks[0].path: must be a non-empty path relative",
  },
  {
    name: "stack path missing",
    text: BASE.split("\n").slice(0, 10).join("\n") + "\n",
    expect: "10:9: environments[0].stacks[0].path: is required",
  },
  {
    name: "test instead of tests",
    text: withEnv("    test:\n      commands: [npm test]\n"),
    expect: '12:5: environments[0].test: unknown key "test"; did you mean "tests"?',
  },
  {
    name: "tests without commands",
    text: withEnv("    tests: {}\n"),
    expect: "12:12: environments[0].tests.commands: is required",
  },
  {
    name: "role not an ARN",
    text: withEnv("    role: deployer\n"),
    expect: "12:11: environments[0].role: must be an IAM role ARN",
  },
  {
    name: "approval as a string",
    text: withEnv('    approval: "yes"\n'),
    expect: "12:15: environments[0].approval: must be a boolean",
  },
  {
    name: "duplicate key",
    text: replaceLine(BASE, 7, "    region: us-east-1\n    region: us-west-2"),
    expect: '8:5: duplicate key "region": each key may appear only once in a mapping',
  },
  {
    name: "duplicate environment names",
    text: BASE + BASE.split("\n").slice(5).join("\n"),
    expect:
      '12:11: environments[1].name: duplicate environment name "dev" (also environments[0].name)',
  },
  {
    name: "duplicate stack names",
    text: withEnv("      - name: App\n        path: lib/other.ts\n"),
    expect:
      '12:15: environments[0].stacks[1].name: duplicate stack name "App" in environment "dev"',
  },
  {
    name: "merge key",
    text: `defaults: &d\n  region: us-east-1\n` +
      BASE.replace("    region: us-east-1\n", "    <<: *d\n"),
    expect: '1:1: defaults: unknown key "defaults"',
  },
  {
    name: "github without webhook",
    text: BASE + "pipeline:\n  github:\n    owner: o\n    repo: r\n    branch: main\n" +
      "    webhookSecret: { name: s, key: k }\n",
    expect: "13:3: pipeline.webhook: is required when pipeline.github is set",
  },
  {
    name: "webhook url not https",
    text: BASE + "pipeline:\n  webhook:\n    url: http://example.com\n",
    expect: "14:10: pipeline.webhook.url: must be the public https:// base URL",
  },
  {
    name: "artifact bucket too short",
    text: BASE + "pipeline:\n  artifactBucket: ab\n",
    expect: "13:19: pipeline.artifactBucket: must be an S3 bucket name",
  },
  {
    name: "namespace with uppercase",
    text: BASE + "pipeline:\n  namespace: Argo\n",
    expect: "13:14: pipeline.namespace: must be a lowercase DNS label",
  },
  {
    name: "pull requests without github",
    text: BASE + "pipeline:\n  pullRequests:\n    enabled: true\n",
    expect: "14:14: pipeline.pullRequests.enabled: needs pipeline.github",
  },
  {
    name: "document is a list",
    text: "- a\n- b\n",
    expect: "1:1: must be an object",
  },
  {
    name: "invalid YAML",
    text: "version: [\n",
    expect: "2:1: invalid YAML",
  },
];

Deno.test("parseConfig: every bad config is rejected with its message at its line and column", async (t) => {
  assert.ok(BAD.length >= 25, `only ${BAD.length} bad cases`);
  for (const c of BAD) {
    await t.step(c.name, () => {
      const result = parseConfig(c.text, { file: "aphex-config.yaml" });
      assert.equal(result.ok, false, "config was accepted");
      if (result.ok) return;
      const lines = result.issues.map(formatIssue);
      const want = `aphex-config.yaml:${c.expect}`;
      assert.ok(
        lines.some((l) => l.startsWith(want)),
        `expected an issue starting with\n  ${want}\ngot\n  ${lines.join("\n  ")}`,
      );
    });
  }
});

Deno.test("parseConfig: all problems are reported at once, sorted by position", () => {
  let text = replaceLine(BASE, 7, "    region: us-east");
  text = replaceLine(text, 8, "    account: 12");
  text = replaceLine(text, 10, "      - name: 1App");
  const result = parseConfig(text);
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.deepEqual(result.issues.map((i) => [i.line, i.path]), [
    [7, "environments[0].region"],
    [8, "environments[0].account"],
    [10, "environments[0].stacks[0].name"],
  ]);
});

const GOOD: {
  name: string;
  text: string;
  check?: (c: ReturnType<typeof applyDefaults>) => void;
}[] = [
  {
    name: "minimal, defaults applied",
    text: BASE,
    check: (c) => {
      assert.equal(c.pipeline.namespace, "argo");
      assert.equal(c.build.artifacts, "artifacts");
      assert.equal(c.environments[0]!.approval, false);
      assert.deepEqual(c.environments[0]!.hooks, { preDeploy: [], postDeploy: [] });
      assert.equal(c.environments[0]!.tests, undefined);
    },
  },
  { name: "us-gov region", text: BASE.replace("us-east-1", "us-gov-west-1") },
  { name: "china region", text: BASE.replace("us-east-1", "cn-north-1") },
  { name: "eu-central-2", text: BASE.replace("us-east-1", "eu-central-2") },
  {
    name: "account with leading zero, quoted",
    text: BASE.replace('"123456789012"', '"012345678901"'),
    check: (c) => assert.equal(c.environments[0]!.account, "012345678901"),
  },
  {
    name: "single-quoted account",
    text: BASE.replace('"123456789012"', "'000000000001'"),
    check: (c) => assert.equal(c.environments[0]!.account, "000000000001"),
  },
  {
    name: "tests, role, approval, hooks",
    text: withEnv(
      "    tests:\n      commands: [npm run smoke]\n    role: arn:aws-us-gov:iam::123456789012:role/deployer\n" +
        "    approval: true\n    hooks:\n      preDeploy: [./pre.sh]\n",
    ),
    check: (c) => {
      const e = c.environments[0]!;
      assert.deepEqual(e.tests, { commands: ["npm run smoke"] });
      assert.equal(e.approval, true);
      assert.deepEqual(e.hooks, { preDeploy: ["./pre.sh"], postDeploy: [] });
    },
  },
  {
    name: "anchors and aliases for shared stacks",
    text: BASE.replace("    stacks:\n", "    stacks: &stacks\n") +
      '  - name: prod\n    region: eu-west-1\n    account: "210987654321"\n    stacks: *stacks\n',
    check: (c) => assert.deepEqual(c.environments[1]!.stacks, c.environments[0]!.stacks),
  },
  {
    name: "full pipeline section",
    text: BASE +
      "pipeline:\n  name: shop\n  artifactBucket: shop.artifacts-1\n  github:\n    owner: org\n    repo: shop.web\n" +
      "    branch: release/v1\n    webhookSecret: { name: gh, key: secret }\n  webhook:\n" +
      "    url: https://hooks.example.com/aphex\n    port: 8080\n  pullRequests: { enabled: true }\n",
    check: (c) => {
      assert.equal(c.pipeline.webhook?.port, 8080);
      assert.equal(c.pipeline.webhook?.endpoint, "/github");
      assert.deepEqual(c.pipeline.pullRequests, { enabled: true, allowForks: false });
    },
  },
  {
    name: "comments and flow style",
    text:
      `# comment\nversion: "1.0" # trailing\nbuild: { commands: ["make build", "make test"] }\n` +
      `environments: [{ name: a1, region: ap-southeast-5, account: "999999999999", ` +
      `stacks: [{ name: S, path: s.ts }] }]\n`,
  },
];

Deno.test("parseConfig: good configs are accepted", async (t) => {
  assert.ok(GOOD.length >= 10);
  for (const c of GOOD) {
    await t.step(c.name, () => {
      const result = parseConfig(c.text);
      assert.ok(result.ok, result.ok ? "" : result.issues.map(formatIssue).join("\n"));
      c.check?.(result.config);
    });
  }
});

Deno.test("parseConfig: alias bombs are refused, not expanded", () => {
  let text = 'a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]\n';
  for (let i = 1; i < 12; i++) {
    text += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(",")}]\n`;
  }
  const started = performance.now();
  const result = parseConfig(text);
  assert.ok(performance.now() - started < 5000);
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.match(result.issues[0]!.message, /aliases expand the document to \d+ nodes/);
  }
});

Deno.test("parseConfig: oversized input is refused before parsing", () => {
  const result = parseConfig("#".repeat(MAX_CONFIG_BYTES + 1));
  assert.equal(result.ok, false);
  if (!result.ok) assert.match(result.issues[0]!.message, /limit is 16777216 bytes/);
});

Deno.test("parseConfigOrThrow: usage error listing every issue", () => {
  const text = replaceLine(replaceLine(BASE, 7, "    region: x"), 8, "    account: 1");
  assert.throws(() => parseConfigOrThrow(text, { file: "cfg.yaml" }), (e: unknown) => {
    assert.ok(e instanceof AphexError);
    assert.equal(e.exitCode, 2);
    assert.equal(e.issues.length, 2);
    assert.match(e.message, /^cfg\.yaml: 2 configuration errors\ncfg\.yaml:7:13: /);
    return true;
  });
});

Deno.test("closest: suggests near keys only", () => {
  assert.equal(closest("stack", ["stacks", "name"]), "stacks");
  assert.equal(closest("enviroments", ["environments", "build"]), "environments");
  assert.equal(closest("artifact", ["commands", "artifacts"]), "artifacts");
  assert.equal(closest("zzz", ["commands", "artifacts"]), undefined);
});

const PLACED: BadCase[] = [
  {
    name: "an empty value where a string belongs is reported, not thrown",
    text: replaceLine(BASE, 8, "    account:"),
    expect: "8:13: environments[0].account: must be a quoted 12-digit string; the value is empty",
  },
  {
    name: "a repeated quoted key is named without its quote",
    text: replaceLine(BASE, 7, '    region: us-east-1\n    "region": us-west-2'),
    expect: '8:5: duplicate key "region": each key may appear only once in a mapping',
  },
  {
    name: "an empty mapping value is placed after its key",
    text: BASE + "pipeline:\n  webhook:\n",
    expect: "13:11: pipeline.webhook: must be an object",
  },
  {
    name: "a problem under an alias is placed at the alias as well as at the anchor",
    text: replaceLine(BASE, 9, "    stacks: &stacks").replace("name: App", "name: 1App") +
      '  - name: prod\n    region: eu-west-1\n    account: "210987654321"\n    stacks: *stacks\n',
    expect: "15:13: environments[1].stacks[0].name: must be a CloudFormation stack name",
  },
];

Deno.test("parseConfig: empty values, quoted keys and aliases are placed at their node", async (t) => {
  for (const c of PLACED) {
    await t.step(c.name, () => {
      const result = parseConfig(c.text, { file: "aphex-config.yaml" });
      assert.equal(result.ok, false, "config was accepted");
      if (result.ok) return;
      const lines = result.issues.map(formatIssue);
      const want = `aphex-config.yaml:${c.expect}`;
      assert.ok(
        lines.some((l) => l.startsWith(want)),
        `expected an issue starting with\n  ${want}\ngot\n  ${lines.join("\n  ")}`,
      );
    });
  }
});

Deno.test("parseConfig: a YAML error after a URL, a bracket or a '#' in a value is reported", async () => {
  // Lines like these before a syntax error once sent the unclosed-quote scan into an endless
  // loop; the parse runs in a worker so that a regression fails here instead of hanging.
  const texts = [
    BASE + "pipeline:\n  webhook:\n    url: https://example.com\n\tname: x\n",
    "a: [1]\nb:\n\t- c\n",
    "a: b#c\nb:\n\t- c\n",
  ];
  const module = new URL("./config_parse.ts", import.meta.url).href;
  const source = `import { parseConfig } from ${JSON.stringify(module)};
self.onmessage = (e) => self.postMessage(e.data.map((text) => parseConfig(text)));`;
  const worker = new Worker(`data:application/javascript,${encodeURIComponent(source)}`, {
    type: "module",
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const results = await new Promise<ReturnType<typeof parseConfig>[]>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error("parseConfig did not return in 30 s")), 30_000);
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(e.message));
      };
      worker.postMessage(texts);
    });
    assert.deepEqual(
      results.map((r) => r.ok ? "accepted" : formatIssue(r.issues[0]!)),
      [
        "aphex-config.yaml:15:1: invalid YAML: tabs are not allowed as indentation",
        "aphex-config.yaml:3:1: invalid YAML: tabs are not allowed as indentation",
        "aphex-config.yaml:3:1: invalid YAML: tabs are not allowed as indentation",
      ],
    );
  } finally {
    clearTimeout(timer);
    worker.terminate();
  }
});
