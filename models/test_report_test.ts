import assert from "node:assert/strict";
import fc from "fast-check";
import {
  cleanLines,
  parseJUnitXml,
  parseSummaryLines,
  parseTap,
  parseTestReport,
  type TestCounts,
} from "./test_report.ts";

const ESC = "\x1b";
const counts = (c: TestCounts | undefined) =>
  c && [c.testCount, c.passedCount, c.failedCount, c.skippedCount, c.source];

// Real output of `pytest --junitxml` (pytest 9): one pass, one failure, one skip, one setup
// error, one xfail.
const PYTEST_JUNIT = `<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">` +
  `<testsuite name="pytest" errors="1" failures="1" skipped="2" tests="5" time="0.033">` +
  `<testcase classname="test_x" name="test_a" time="0.000" />` +
  `<testcase classname="test_x" name="test_b" time="0.001"><failure message="assert False">&gt;   ` +
  `def test_b(): assert False\nE   assert False\n\ntest_x.py:3: AssertionError</failure></testcase>` +
  `<testcase classname="test_x" name="test_c" time="0.000"><skipped type="pytest.skip" ` +
  `message="unconditional skip">/tmp/rt/test_x.py:4: unconditional skip</skipped></testcase>` +
  `<testcase classname="test_x" name="test_d" time="0.000"><error message="failed on setup with ` +
  `&quot;RuntimeError: x&quot;">E   RuntimeError: x</error></testcase>` +
  `<testcase classname="test_x" name="test_e" time="0.000"><skipped type="pytest.xfail" message="" />` +
  `</testcase></testsuite></testsuites>`;

const JUNIT_CASES: [string, string, ReturnType<typeof counts>][] = [
  ["pytest report (testcases counted)", PYTEST_JUNIT, [5, 1, 2, 2, "junit"]],
  [
    "<testsuites> totals only",
    `<testsuites tests="10" failures="2" errors="1" skipped="3"></testsuites>`,
    [10, 4, 3, 3, "junit"],
  ],
  [
    "list of <testsuite> roots' attributes summed",
    `<testsuites><testsuite name="a" tests="3" failures="1"/><testsuite name="b" tests="2" ` +
    `disabled="1"/></testsuites>`,
    [5, 3, 1, 1, "junit"],
  ],
  [
    "single <testsuite> root with cases",
    `<?xml version="1.0"?>\n<testsuite name="jest" tests="3"><testcase name="a"/><testcase name="b">` +
    `<failure><![CDATA[Expected <1> got <2>]]></failure></testcase><testcase name="c"><skipped/>` +
    `</testcase></testsuite>`,
    [3, 1, 1, 1, "junit"],
  ],
  [
    "nested suites: cases at every level, parent totals not double counted",
    `<testsuites tests="4" failures="1"><testsuite name="outer" tests="4" failures="1">` +
    `<testcase name="o1"/><testsuite name="inner" tests="3" failures="1"><testcase name="i1"/>` +
    `<testcase name="i2"><error message="boom"/></testcase><testcase name="i3"></testcase>` +
    `</testsuite></testsuite></testsuites>`,
    [4, 3, 1, 0, "junit"],
  ],
  [
    "namespaced, status attribute skips",
    `<ns:testsuites xmlns:ns="urn:x"><ns:testsuite><ns:testcase name="a" status="skipped"/>` +
    `<ns:testcase name="b" status="run"/></ns:testsuite></ns:testsuites>`,
    [2, 1, 0, 1, "junit"],
  ],
  ["empty report", `<testsuites/>`, [0, 0, 0, 0, "junit"]],
];

for (const [name, xml, expected] of JUNIT_CASES) {
  Deno.test(`parseJUnitXml: ${name}`, () => {
    const parsed = parseJUnitXml(xml);
    assert.equal(parsed.kind, "counts", JSON.stringify(parsed));
    const r = parseTestReport("", { junit: [{ name: "junit.xml", content: xml }] });
    assert.deepEqual(counts(r), expected);
  });
}

Deno.test("parseJUnitXml: malformed or foreign XML is reported, never thrown", () => {
  const malformed = [
    `<testsuites><testsuite tests="1"><testcase name="a"></testsuite></testsuites>`,
    `<testsuites tests="1"`,
    `not xml at all`,
    ``,
    `<testsuites tests="2" failures="5"/>`,
    `<testsuite tests="x"><testcase/><testcase/></testsuite><testsuite>`,
  ];
  for (const xml of malformed) assert.equal(parseJUnitXml(xml).kind, "malformed", xml);
  assert.deepEqual(parseJUnitXml(`<coverage line-rate="0.9"><packages/></coverage>`), {
    kind: "not-junit",
  });
});

Deno.test("parseTestReport: junit files are summed; foreign XML skipped with a note", () => {
  const r = parseTestReport("", {
    junit: [
      { name: "a.xml", content: `<testsuite tests="2" failures="1"/>` },
      { name: "b.xml", content: PYTEST_JUNIT },
      { name: "cov.xml", content: `<coverage/>` },
    ],
  });
  assert.deepEqual(counts(r), [7, 2, 3, 2, "junit"]);
  assert.deepEqual(r?.notes, ["cov.xml: not a JUnit report; skipped"]);
});

Deno.test("parseTestReport: a malformed JUnit file falls back to the output, with a note", () => {
  const r = parseTestReport("FAILED | 2 passed | 1 failed (5ms)", {
    junit: [
      { name: "good.xml", content: `<testsuite tests="9"/>` },
      { name: "broken.xml", content: `<testsuite tests="3"><testcase>` },
    ],
  });
  assert.deepEqual(counts(r), [3, 2, 1, 0, "summary"]);
  assert.match(r!.notes[0]!, /^broken\.xml: malformed JUnit XML \(.+\); JUnit reports not used$/);
  // And when the output has nothing either: undefined, not zeros.
  assert.equal(parseTestReport("", { junit: [{ name: "x.xml", content: "<" }] }), undefined);
});

// Real `node --test --test-reporter=tap` output (Node 22), nested subtest included.
const NODE_TAP = `TAP version 13
# Subtest: a
ok 1 - a
  ---
  duration_ms: 1.176759
  ...
# Subtest: b
not ok 2 - b
  ---
  duration_ms: 0.373277
  failureType: 'testCodeFailure'
  error: 'boom'
  ...
# Subtest: c
ok 3 - c # SKIP
  ---
  duration_ms: 0.149092
  ...
# Subtest: d
not ok 4 - d # TODO
  ---
  duration_ms: 0.124286
  ...
# Subtest: e
    # Subtest: e1
    ok 1 - e1
      ---
      duration_ms: 0.171686
      ...
    1..1
ok 5 - e
  ---
  duration_ms: 0.581281
  ...
1..5
# tests 6
# pass 3
# fail 1
`;

const TAP_CASES: [string, string, ReturnType<typeof counts>][] = [
  ["node --test tap reporter (top-level tests)", NODE_TAP, [5, 2, 1, 2, "tap"]],
  ["plan first, no version line", "1..3\nok 1 first\nnot ok 2 second\nok 3 third\n", [
    3,
    2,
    1,
    0,
    "tap",
  ]],
  ["plan larger than tests seen", "1..4\nok 1\nok 2\nBail out! db down\n", [4, 2, 0, 0, "tap"]],
  ["skip with reason, lower case", "TAP version 14\nok 1 - x # skip no network\n1..1\n", [
    1,
    0,
    0,
    1,
    "tap",
  ]],
  ["TODO that passes counts as passed", "1..1\nok 1 - y # TODO later\n", [1, 1, 0, 0, "tap"]],
  ["escaped hash is not a directive", "1..1\nnot ok 1 - issue \\# SKIP\n", [1, 0, 1, 0, "tap"]],
  ["two streams: plans summed", "1..1\nok 1\n1..2\nok 1\nnot ok 2\n", [3, 2, 1, 0, "tap"]],
  ["empty plan", "1..0 # SKIP no tests here\n", [0, 0, 0, 0, "tap"]],
];

for (const [name, text, expected] of TAP_CASES) {
  Deno.test(`parseTap: ${name}`, () => {
    assert.deepEqual(counts(parseTap(text)), expected);
    assert.deepEqual(counts(parseTestReport(text)), expected);
  });
}

Deno.test("parseTap: needs a plan or version line; other runners' ok lines are not TAP", () => {
  assert.equal(parseTap("ok 1 - a\nnot ok 2 - b\n"), undefined);
  assert.equal(parseTap("ok | 3 passed | 0 failed (3ms)\n"), undefined);
  assert.equal(parseTap("ok  \texample.com/pkg\t0.012s\n"), undefined);
  assert.match(parseTap("1..4\nok 1\n")!.notes[0]!, /announced 4 tests but 1 reported/);
});

// Deno 2.9 output, colours on (captured from `deno test`).
const DENO_FAILED =
  `${ESC}[0m${ESC}[31mFAILED${ESC}[0m | 2 passed (2 steps) | 1 failed | 1 ignored ` +
  `${ESC}[0m${ESC}[38;5;245m(0ms)${ESC}[0m\n\n${ESC}[0m${ESC}[1m${ESC}[31merror${ESC}[0m: Test failed\n`;
const DENO_OK = `${ESC}[0m${ESC}[32mok${ESC}[0m | 1 passed | 0 failed | 3 filtered out ` +
  `${ESC}[0m${ESC}[38;5;245m(16ms)${ESC}[0m\n`;
// pytest 9, colours on.
const PYTEST_COLOUR =
  `${ESC}[31mFAILED${ESC}[0m test_x.py::${ESC}[1mtest_b${ESC}[0m - assert False\n` +
  `${ESC}[31m========== ${ESC}[31m${ESC}[1m1 failed${ESC}[0m, ${ESC}[32m1 passed${ESC}[0m, ` +
  `${ESC}[33m1 skipped${ESC}[0m, ${ESC}[33m1 xfailed${ESC}[0m, ${ESC}[31m${ESC}[1m1 error${ESC}[0m` +
  `${ESC}[31m in 0.77s${ESC}[0m${ESC}[31m ==========${ESC}[0m\n`;

const JEST = `
Summary of all failing tests
 FAIL  src/sum.test.js
  ● sum › adds

Test Suites: 1 failed, 2 passed, 3 total
Tests:       1 failed, 1 skipped, 4 passed, 6 total
Snapshots:   0 total
Time:        1.52 s
Ran all test suites.
`;

const VITEST = `
 ❯ src/sum.test.ts (5 tests | 1 failed) 4ms

 Test Files  1 failed | 1 passed (2)
      Tests  1 failed | 4 passed (5)
   Start at  10:31:02
   Duration  312ms
`;

const GO_VERBOSE = `=== RUN   TestAdd
--- PASS: TestAdd (0.00s)
=== RUN   TestSub
=== RUN   TestSub/neg
    sub_test.go:12: got 1, want -1
    --- FAIL: TestSub/neg (0.00s)
--- FAIL: TestSub (0.00s)
=== RUN   TestSkip
    skip_test.go:5: no network
--- SKIP: TestSkip (0.00s)
FAIL
FAIL\texample.com/calc\t0.004s
ok  \texample.com/util\t0.003s
`;

const GO_QUIET = `--- FAIL: TestSub (0.00s)
    sub_test.go:12: got 1, want -1
FAIL
FAIL\texample.com/calc\t0.004s
ok  \texample.com/util\t(cached)
ok  \texample.com/io\t0.010s
?   \texample.com/cmd\t[no test files]
FAIL
`;

const SUMMARY_CASES: [string, string, ReturnType<typeof counts>][] = [
  ["deno failed, steps and ignored, ANSI colours", DENO_FAILED, [4, 2, 1, 1, "summary"]],
  ["deno ok, filtered out not counted", DENO_OK, [1, 1, 0, 0, "summary"]],
  ["deno plain", "ok | 3 passed | 1 failed (12ms)\n", [4, 3, 1, 0, "summary"]],
  ["jest", JEST, [6, 4, 1, 1, "summary"]],
  ["vitest", VITEST, [5, 4, 1, 0, "summary"]],
  ["vitest with skipped", "      Tests  4 passed | 2 skipped (6)\n", [6, 4, 0, 2, "summary"]],
  ["pytest colours, errors and xfail", PYTEST_COLOUR, [5, 1, 2, 2, "summary"]],
  ["pytest -q", "1 failed, 4 passed in 0.12s\n", [5, 4, 1, 0, "summary"]],
  ["pytest with warnings and duration", "===== 4 passed, 2 warnings in 61.04s (0:01:01) =====\n", [
    4,
    4,
    0,
    0,
    "summary",
  ]],
  ["pytest no tests", "============ no tests ran in 0.01s ============\n", [0, 0, 0, 0, "summary"]],
  ["go test -v: top-level tests", GO_VERBOSE, [3, 1, 1, 1, "summary"]],
  ["go test: packages", GO_QUIET, [3, 2, 1, 0, "summary"]],
  ["progress redrawn with carriage returns", "running…\rok | 2 passed | 0 failed (1s)\n", [
    2,
    2,
    0,
    0,
    "summary",
  ]],
  [
    "two runners in one command are added up",
    "ok | 3 passed | 0 failed (5ms)\n=== 2 passed in 0.01s ===\n",
    [5, 5, 0, 0, "summary"],
  ],
];

for (const [name, text, expected] of SUMMARY_CASES) {
  Deno.test(`parseSummaryLines: ${name}`, () => {
    assert.deepEqual(counts(parseSummaryLines(text)), expected);
    assert.deepEqual(counts(parseTestReport(text)), expected);
  });
}

Deno.test("parseSummaryLines: notes say what was counted", () => {
  assert.deepEqual(parseSummaryLines(GO_QUIET)?.notes, [
    "go test: counted packages, not tests (run go test -v for per-test counts)",
  ]);
  assert.deepEqual(parseSummaryLines(GO_VERBOSE)?.notes, []);
  assert.deepEqual(parseSummaryLines("ok | 1 passed | 0 failed (1ms)\n4 passed in 1s\n")?.notes, [
    "added up 2 summaries (deno, pytest)",
  ]);
});

Deno.test("parseTestReport: nothing recognisable gives undefined, never zeros", () => {
  for (
    const text of [
      "",
      "Build succeeded\nAll good\n",
      "Tests: lots",
      "3 apples in 2s",
      "ok 1 - looks like TAP but has no plan",
      "Tests  1 failed | 4 passed",
      "FAIL",
    ]
  ) {
    assert.equal(parseTestReport(text), undefined, JSON.stringify(text));
  }
});

Deno.test("parseTestReport: JUnit wins over TAP, TAP over summary lines", () => {
  const tapAndDeno = "1..1\nnot ok 1\nok | 5 passed | 0 failed (1ms)\n";
  assert.equal(parseTestReport(tapAndDeno)?.source, "tap");
  const junit = [{ name: "j.xml", content: `<testsuite tests="7"/>` }];
  assert.deepEqual(counts(parseTestReport(tapAndDeno, { junit })), [7, 7, 0, 0, "junit"]);
});

Deno.test("cleanLines: strips colour, cursor and OSC sequences", () => {
  assert.deepEqual(
    cleanLines(`${ESC}[2K${ESC}[1Gx${ESC}]8;;http://a${ESC}\\link${ESC}]8;;${ESC}\\ `),
    [
      "xlink",
    ],
  );
});

const consistentCounts = (c: TestCounts | undefined) =>
  c === undefined ||
  (c.passedCount + c.failedCount + c.skippedCount <= c.testCount &&
    [c.testCount, c.passedCount, c.failedCount, c.skippedCount].every((n) =>
      Number.isSafeInteger(n) && n >= 0
    ));

Deno.test("parseTestReport: never throws, counts always consistent (property)", () => {
  const fragments = fc.constantFrom(
    "ok",
    "not ok",
    " 1",
    "1..",
    "# SKIP",
    "# TODO",
    " | ",
    "passed",
    "failed",
    "total",
    "Tests:",
    "Tests",
    ",",
    "(",
    ")",
    "=== ",
    " in 0.1s",
    "--- PASS: T",
    "--- FAIL: T",
    "=== RUN T",
    "FAIL\tpkg\t0.1s",
    "\n",
    "\r",
    `${ESC}[31m`,
    "99999999999999999999",
    '<testsuite tests="',
    '"/>',
    "<testcase/>",
    "<failure/>",
    "</testsuite>",
  );
  const text = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.array(fc.oneof(fragments, fc.nat({ max: 50 }).map(String)), { maxLength: 40 }).map((a) =>
      a.join("")
    ),
  );
  fc.assert(
    fc.property(text, text, (output, xml) => {
      const r = parseTestReport(output, { junit: [{ name: "r.xml", content: xml }] });
      assert.ok(consistentCounts(r), JSON.stringify(r));
      assert.ok(consistentCounts(parseTap(output)));
      assert.ok(consistentCounts(parseSummaryLines(output)));
      const j = parseJUnitXml(xml);
      assert.ok(["counts", "malformed", "not-junit"].includes(j.kind));
    }),
    { numRuns: 2000 },
  );
});
