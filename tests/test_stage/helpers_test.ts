import assert from "node:assert/strict";
import fc from "fast-check";
import { fromJsonText } from "../../models/_codec.ts";
import type { CountSource } from "../../models/results.ts";
import {
  countCommand,
  encodeTestRun,
  overallCountSource,
  renderSummaryTable,
  type TestRunDocument,
  TestRunDocumentCodec,
} from "../../models/test_run.ts";
import {
  changedReportFiles,
  findReportFiles,
  globToRegExp,
} from "../../adapters/workspace/report_files.ts";
import { AphexError } from "../../models/errors.ts";

const GLOB_CASES: [string, string[], string[]][] = [
  [
    "**/junit*.xml",
    ["junit.xml", "junit-unit.xml", "a/junit.xml", "a/b/c/junit_x.xml"],
    ["junit.xmlx", "a/xjunit.xml", "a/junit.json", "junit/x.xml"],
  ],
  [
    "test-results/**/*.xml",
    ["test-results/a.xml", "test-results/x/y/b.xml"],
    ["a/test-results/a.xml", "test-results.xml", "test-results/a.xml.bak"],
  ],
  ["./out/*.xml", ["out/r.xml", "out/.x.xml"], ["out/a/r.xml", "r.xml"]],
  ["reports/TEST-?.xml", ["reports/TEST-1.xml"], ["reports/TEST-12.xml", "reports/TEST-/.xml"]],
  ["r/[ab]*.xml", ["r/a.xml", "r/bz.xml"], ["r/c.xml"]],
  ["r/[!ab]*.xml", ["r/c.xml"], ["r/a.xml", "r/b1.xml"]],
  ["{unit,e2e}/report.xml", ["unit/report.xml", "e2e/report.xml"], ["int/report.xml"]],
  ["a.b+c(d)/$x.xml", ["a.b+c(d)/$x.xml"], ["aXb+c(d)/$x.xml"]],
  ["logs/**", ["logs/a", "logs/a/b.xml"], ["logsx/a", "x/logs/a"]],
];

Deno.test("globToRegExp: table of patterns and paths", () => {
  for (const [glob, yes, no] of GLOB_CASES) {
    const re = globToRegExp(glob);
    for (const p of yes) assert.ok(re.test(p), `${glob} should match ${p}`);
    for (const p of no) assert.ok(!re.test(p), `${glob} should not match ${p}`);
  }
});

Deno.test("globToRegExp: absolute, empty and '..' patterns are usage errors", () => {
  for (const bad of ["/etc/*.xml", "", "  ", "../x.xml", "a/../../b.xml", "./"]) {
    assert.throws(() => globToRegExp(bad), (e) => e instanceof AphexError && e.exitCode === 2);
  }
});

Deno.test("globToRegExp: a literal segment matches exactly itself (property)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 4 })
        .map((segs) => segs.map((s) => s.replace(/[/*?[\]{}!\s]/g, "_")))
        .filter((segs) => segs.every((s) => s !== "." && s !== ".." && s.trim() === s)),
      (segs) => {
        const path = segs.join("/");
        assert.ok(globToRegExp(path).test(path));
        assert.ok(!globToRegExp(path).test(`${path}x`));
        assert.ok(globToRegExp(`**/${segs.at(-1)}`).test(path));
      },
    ),
  );
});

Deno.test("findReportFiles: skips node_modules, .git, excluded dirs and symlinks", async () => {
  const root = await Deno.makeTempDir({ prefix: "aphex-find-" });
  try {
    for (
      const p of [
        "junit.xml",
        "pkg/junit-a.xml",
        "node_modules/x/junit.xml",
        "pkg/node_modules/junit.xml",
        ".git/junit.xml",
        ".aphex/store/junit.xml",
        "test-results/deep/r.xml",
        "test-results/r.txt",
      ]
    ) {
      await Deno.mkdir(`${root}/${p.slice(0, p.lastIndexOf("/") + 1) || "."}`, {
        recursive: true,
      });
      await Deno.writeTextFile(`${root}/${p}`, "<testsuite/>");
    }
    await Deno.symlink(`${root}/junit.xml`, `${root}/pkg/junit-link.xml`);
    const found = await findReportFiles(
      root,
      ["**/junit*.xml", "test-results/**/*.xml"].map(globToRegExp),
      { excludeDirs: [`${root}/.aphex/store`] },
    );
    assert.deepEqual([...found.keys()].sort(), [
      "junit.xml",
      "pkg/junit-a.xml",
      "test-results/deep/r.xml",
    ]);
    assert.equal(found.get("junit.xml")!.size, "<testsuite/>".length);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("changedReportFiles: new, changed mtime or size, or modified after the start", () => {
  const before = new Map([
    ["same.xml", { mtimeMs: 1000, size: 10 }],
    ["touched.xml", { mtimeMs: 1000, size: 10 }],
    ["grown.xml", { mtimeMs: 1000, size: 10 }],
  ]);
  const after = new Map([
    ["same.xml", { mtimeMs: 1000, size: 10 }],
    ["touched.xml", { mtimeMs: 2000, size: 10 }],
    ["grown.xml", { mtimeMs: 1000, size: 11 }],
    ["new.xml", { mtimeMs: 500, size: 1 }],
    ["late.xml", { mtimeMs: 1600, size: 1 }],
  ]);
  assert.deepEqual(changedReportFiles(before, after, 1500), [
    "grown.xml",
    "late.xml",
    "new.xml",
    "touched.xml",
  ]);
  assert.deepEqual(changedReportFiles(after, after, 5000), []);
});

const ok = { exitCode: 0, timedOut: false, cancelled: false };
const bad = { exitCode: 2, timedOut: false, cancelled: false };

Deno.test("countCommand: parsed counts, per-command fallback, disagreements noted", () => {
  const table: [string, typeof ok, string, string[], unknown[], RegExp | "no notes" | undefined][] =
    [
      ["tap", ok, "1..2\nok 1\nok 2\n", [], [2, 2, 0, 0, "tap"], undefined],
      [
        "deno summary",
        bad,
        "FAILED | 3 passed | 1 failed (5ms)",
        [],
        [4, 3, 1, 0, "summary"],
        "no notes",
      ],
      ["nothing, passed", ok, "hello", [], [1, 1, 0, 0, "per-command"], /one passed test/],
      ["nothing, failed", bad, "", [], [1, 0, 1, 0, "per-command"], /one failed test/],
      ["timed out", { ...ok, timedOut: true }, "", [], [1, 0, 1, 0, "per-command"], /failed/],
      [
        "junit beats output",
        ok,
        "ok | 9 passed | 0 failed (1ms)",
        [`<testsuite tests="3" failures="0" skipped="1"/>`],
        [3, 2, 0, 1, "junit"],
        undefined,
      ],
      [
        "malformed junit → output",
        ok,
        "ok | 9 passed | 0 failed (1ms)",
        ["<testsuite><testcase"],
        [9, 9, 0, 0, "summary"],
        /r\.xml/,
      ],
      [
        "exit 1 but report shows no failure",
        bad,
        "1..1\nok 1\n",
        [],
        [1, 1, 0, 0, "tap"],
        /failed \(exit 2\) but its report shows no failed test/,
      ],
      [
        "exit 0 but report shows failures",
        ok,
        "Tests: 1 failed, 2 passed, 3 total",
        [],
        [3, 2, 1, 0, "summary"],
        /1 failed test\(s\) but the command exited 0/,
      ],
    ];
  for (const [name, outcome, output, junit, expected, note] of table) {
    const c = countCommand(
      outcome,
      output,
      junit.map((content) => ({ name: "r.xml", content })),
    );
    assert.deepEqual(
      [c.testCount, c.passedCount, c.failedCount, c.skippedCount, c.countSource],
      expected,
      name,
    );
    if (note === "no notes") assert.deepEqual(c.notes, [], name);
    else if (note) assert.match(c.notes.join("; "), note, name);
  }
});

const SOURCES: CountSource[] = ["junit", "tap", "summary", "per-command"];

Deno.test("overallCountSource: least precise source; per-command iff any command needed it (property)", () => {
  assert.equal(overallCountSource([]), "per-command");
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...SOURCES), { minLength: 1, maxLength: 20 }), (xs) => {
      const got = overallCountSource(xs);
      assert.ok(xs.includes(got));
      assert.equal(got === "per-command", xs.includes("per-command"));
      assert.equal(got, SOURCES[Math.max(...xs.map((s) => SOURCES.indexOf(s)))]);
    }),
  );
});

const docArb: fc.Arbitrary<TestRunDocument> = fc.record({
  commitSha: fc.stringMatching(/^[0-9a-f]{40}$/),
  environment: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
  testsConfigured: fc.boolean(),
  result: fc.record({
    success: fc.boolean(),
    exitCode: fc.integer({ min: 0, max: 255 }),
    stdout: fc.string(),
    stderr: fc.string(),
    duration: fc.double({ min: 0, max: 1e6, noNaN: true }),
    testCount: fc.nat(),
    passedCount: fc.nat(),
    failedCount: fc.nat(),
    countSource: fc.constantFrom(...SOURCES),
  }),
  skippedCount: fc.nat(),
  commands: fc.array(
    fc.record({
      index: fc.nat(),
      command: fc.string(),
      exitCode: fc.integer({ min: 0, max: 255 }),
      timedOut: fc.boolean(),
      cancelled: fc.boolean(),
      duration: fc.double({ min: 0, max: 1e6, noNaN: true }),
      testCount: fc.nat(),
      passedCount: fc.nat(),
      failedCount: fc.nat(),
      skippedCount: fc.nat(),
      countSource: fc.constantFrom(...SOURCES),
      junitFiles: fc.array(fc.string()),
      notes: fc.array(fc.string()),
      logUri: fc.option(fc.string(), { nil: null }),
    }),
    { maxLength: 4 },
  ),
  notes: fc.array(fc.string()),
});

Deno.test("TestRunDocument JSON round trip is exact (property)", () => {
  fc.assert(
    fc.property(docArb, (doc) => {
      const plain = JSON.parse(JSON.stringify(doc));
      assert.deepEqual(fromJsonText(TestRunDocumentCodec, encodeTestRun(doc), "doc"), plain);
    }),
  );
});

Deno.test("renderSummaryTable: aligned columns, totals and verdict", () => {
  const command = (index: number, exitCode: number, tests: number, source: CountSource) => ({
    index,
    command: index === 1 ? "npm run test:integration -- --reporter=junit --very-long-flag" : "true",
    exitCode,
    timedOut: false,
    cancelled: false,
    duration: 1.5,
    testCount: tests,
    passedCount: exitCode === 0 ? tests : tests - 1,
    failedCount: exitCode === 0 ? 0 : 1,
    skippedCount: 0,
    countSource: source,
    junitFiles: [],
    notes: [],
    logUri: null,
  });
  const doc: TestRunDocument = {
    commitSha: "a".repeat(40),
    environment: "staging",
    testsConfigured: true,
    result: {
      success: false,
      exitCode: 1,
      stdout: "",
      stderr: "",
      duration: 3.25,
      testCount: 13,
      passedCount: 12,
      failedCount: 1,
      countSource: "per-command",
    },
    skippedCount: 0,
    commands: [command(1, 1, 12, "junit"), command(2, 0, 1, "per-command")],
    notes: [],
  };
  const lines = renderSummaryTable(doc);
  assert.equal(lines[0], "test summary for staging at aaaaaaaaaaaa:");
  const header = lines[1]!;
  const rows = lines.slice(3, 5);
  // Numbers are right-aligned under their header, the source left-aligned.
  const body = [...rows, lines[6]!];
  for (const column of ["exit", "tests", "passed", "failed"]) {
    const end = header.indexOf(column) + column.length;
    for (const row of body) {
      assert.match(row[end - 1]!, /\d/, `${column} in ${row}`);
      assert.equal(row[end], " ", `${column} in ${row}`);
    }
  }
  const sourceAt = header.indexOf("source");
  assert.deepEqual(body.map((r) => r.slice(sourceAt).split(" ")[0]), [
    "junit",
    "per-command",
    "per-command",
  ]);
  assert.match(
    rows[0]!,
    /^1 {2}npm run test:integration -- --reporter=junit --…\s+1\s+12\s+11\s+1\s+junit\s+1\.50 s$/,
  );
  assert.match(rows[1]!, /^2 {2}true\s+0\s+1\s+1\s+0\s+per-command\s+1\.50 s$/);
  assert.match(lines[6]!, /total\s+1\s+13\s+12\s+1\s+per-command\s+3\.25 s$/);
  assert.match(lines[7]!, /^FAILED: 1 of 2 command\(s\) failed; 13 test\(s\), 12 passed, 1 failed/);
  assert.match(lines[8]!, /^per-command:/);
});
