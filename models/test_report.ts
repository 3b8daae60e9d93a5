/**
 * Test counts from what test commands leave behind: JUnit XML reports, else TAP output, else the
 * summary lines of well-known runners (Deno, Jest, Vitest, pytest, Go). Pure: the caller finds
 * the report files and passes their text. Nothing here throws on bad input, and when nothing can
 * be parsed the answer is `undefined`: counts are never invented.
 * @module
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import type { CountSource } from "./results.ts";

/** Where parsed counts come from. */
export type TestCountSource = Exclude<CountSource, "per-command">;

/** Test counts parsed from reports or output. `passed + failed + skipped ≤ testCount`. */
export interface TestCounts {
  /** Tests in the report, skipped ones included. */
  testCount: number;
  /** Tests that passed (skipped ones are not counted as passed). */
  passedCount: number;
  /** Tests that failed (JUnit failures and errors; pytest failed and errors). */
  failedCount: number;
  /** Tests skipped, ignored or TODO. */
  skippedCount: number;
  /** Which parser produced the counts. */
  source: TestCountSource;
  /** What else was noticed (malformed reports skipped, packages counted instead of tests…). */
  notes: string[];
}

/** One JUnit XML report: a name for messages and its text. */
export interface JUnitReport {
  /** File name (for notes). */
  name: string;
  /** XML text. */
  content: string;
}

/** Options of {@linkcode parseTestReport}. */
export interface ParseTestReportOptions {
  /** JUnit XML reports the command left (found by the caller's globs). */
  junit?: readonly JUnitReport[];
}

type Tally = Omit<TestCounts, "source" | "notes">;

const ZERO: Tally = { testCount: 0, passedCount: 0, failedCount: 0, skippedCount: 0 };

function add(a: Tally, b: Tally): Tally {
  return {
    testCount: a.testCount + b.testCount,
    passedCount: a.passedCount + b.passedCount,
    failedCount: a.failedCount + b.failedCount,
    skippedCount: a.skippedCount + b.skippedCount,
  };
}

function consistent(t: Tally): boolean {
  return [t.testCount, t.passedCount, t.failedCount, t.skippedCount].every(Number.isSafeInteger) &&
    t.passedCount >= 0 && t.failedCount >= 0 && t.skippedCount >= 0 &&
    t.passedCount + t.failedCount + t.skippedCount <= t.testCount;
}

// ---------------------------------------------------------------------------------------------
// JUnit XML

const ARRAY_TAGS = new Set(["testsuite", "testcase", "failure", "error", "skipped"]);

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: false,
  removeNSPrefix: true,
  isArray: (name) => ARRAY_TAGS.has(name),
});

type Node = Record<string, unknown>;

function isNode(v: unknown): v is Node {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function children(node: Node, tag: string): Node[] {
  const v = node[tag];
  if (!Array.isArray(v)) return [];
  // `<testcase/>` and `<testcase></testcase>` parse to "", attributes-only elements to objects.
  return v.map((x) => isNode(x) ? x : {});
}

function countAttr(node: Node, name: string): number | undefined {
  const v = node[`@_${name}`];
  if (typeof v !== "string" || !/^\s*\d+\s*$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

function countCases(suite: Node): { cases: number; tally: Tally } {
  let tally = ZERO;
  let cases = 0;
  for (const c of children(suite, "testcase")) {
    cases++;
    const failed = Object.hasOwn(c, "failure") || Object.hasOwn(c, "error");
    const status = typeof c["@_status"] === "string" ? c["@_status"].toLowerCase() : "";
    const skipped = !failed &&
      (Object.hasOwn(c, "skipped") || status === "skipped" || status === "disabled");
    tally = add(tally, {
      testCount: 1,
      passedCount: failed || skipped ? 0 : 1,
      failedCount: failed ? 1 : 0,
      skippedCount: skipped ? 1 : 0,
    });
  }
  for (const s of children(suite, "testsuite")) {
    const inner = countCases(s);
    cases += inner.cases;
    tally = add(tally, inner.tally);
  }
  return { cases, tally };
}

/** Totals from a suite's attributes (`tests`, `failures`, `errors`, `skipped`/`disabled`). */
function attrTally(node: Node): Tally | undefined {
  const tests = countAttr(node, "tests");
  if (tests === undefined) {
    const suites = children(node, "testsuite");
    if (suites.length === 0) return undefined;
    let sum = ZERO;
    for (const s of suites) {
      const t = attrTally(s);
      if (!t) return undefined;
      sum = add(sum, t);
    }
    return sum;
  }
  const failed = (countAttr(node, "failures") ?? 0) + (countAttr(node, "errors") ?? 0);
  const skipped = countAttr(node, "skipped") ?? countAttr(node, "disabled") ?? 0;
  const tally = {
    testCount: tests,
    passedCount: tests - failed - skipped,
    failedCount: failed,
    skippedCount: skipped,
  };
  return consistent(tally) ? tally : undefined;
}

/** Outcome of parsing one JUnit file. */
export type JUnitParse =
  | { kind: "counts"; counts: Omit<TestCounts, "source" | "notes"> }
  | { kind: "not-junit" }
  | { kind: "malformed"; message: string };

/**
 * Parses one JUnit XML document. Counts `<testcase>` elements when there are any (a failure or
 * error child → failed, a skipped child → skipped), across `<testsuites>`, `<testsuite>` lists and
 * nested suites; otherwise uses the suites' `tests`/`failures`/`errors`/`skipped` attributes.
 * Never throws: bad XML is `malformed`, well-formed XML of another kind is `not-junit`.
 */
export function parseJUnitXml(xml: string): JUnitParse {
  try {
    const valid = XMLValidator.validate(xml);
    if (valid !== true) {
      const { msg, line } = valid.err;
      return { kind: "malformed", message: `${msg} (line ${line})` };
    }
    const doc: unknown = xmlParser.parse(xml);
    if (!isNode(doc)) return { kind: "not-junit" };
    let root: Node;
    if (isNode(doc.testsuites) || doc.testsuites === "") {
      root = isNode(doc.testsuites) ? doc.testsuites : {};
    } else if (Array.isArray(doc.testsuite)) {
      root = { testsuite: doc.testsuite };
    } else {
      return { kind: "not-junit" };
    }
    const { cases, tally } = countCases(root);
    if (cases > 0) return { kind: "counts", counts: tally };
    const fromAttrs = attrTally(root);
    if (fromAttrs) return { kind: "counts", counts: fromAttrs };
    // A report with no test cases and no totals: zero tests, unless its attributes contradict.
    const declared = countAttr(root, "tests");
    if (declared === undefined || declared === 0) return { kind: "counts", counts: ZERO };
    return { kind: "malformed", message: "suite totals are inconsistent" };
  } catch (e) {
    return { kind: "malformed", message: e instanceof Error ? e.message : String(e) };
  }
}

function fromJUnit(reports: readonly JUnitReport[]): TestCounts | { notes: string[] } {
  const notes: string[] = [];
  let tally = ZERO;
  let found = 0;
  let malformed = false;
  for (const r of reports) {
    const parsed = parseJUnitXml(r.content);
    if (parsed.kind === "counts") {
      tally = add(tally, parsed.counts);
      found++;
    } else if (parsed.kind === "malformed") {
      malformed = true;
      notes.push(`${r.name}: malformed JUnit XML (${parsed.message}); JUnit reports not used`);
    } else {
      notes.push(`${r.name}: not a JUnit report; skipped`);
    }
  }
  if (found === 0 || malformed) return { notes };
  return { ...tally, source: "junit", notes };
}

// ---------------------------------------------------------------------------------------------
// Output text

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

/** Output as lines without ANSI escapes; a carriage return keeps what was drawn last. */
export function cleanLines(output: string): string[] {
  return output.replace(ANSI, "").split(/\r?\n/).map((line) => {
    const i = line.lastIndexOf("\r");
    return (i >= 0 ? line.slice(i + 1) : line).trimEnd();
  });
}

const TAP_VERSION = /^TAP version \d+$/i;
const TAP_PLAN = /^1\.\.(\d+)(?:\s*#.*)?$/;
const TAP_TEST = /^(not ok|ok)\b(?!\s*\|)(.*)$/;
const TAP_DIRECTIVE = /(?:^|[^\\])#\s*(skip|todo)/i;

/**
 * Counts from TAP output: top-level `ok`/`not ok` lines and `1..N` plans (summed when several
 * streams ran). `# SKIP` and `not ok … # TODO` count as skipped (TAP: a TODO failure is not a
 * failure). Needs a `TAP version` line or a plan, so other runners' `ok` lines are not mistaken
 * for TAP. Undefined when the output is not TAP.
 */
export function parseTap(output: string): TestCounts | undefined {
  let isTap = false;
  let planned = 0;
  let seen = 0;
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const line of cleanLines(output)) {
    if (TAP_VERSION.test(line)) {
      isTap = true;
      continue;
    }
    const plan = TAP_PLAN.exec(line);
    if (plan) {
      isTap = true;
      planned += Number(plan[1]);
      continue;
    }
    const test = TAP_TEST.exec(line);
    if (!test) continue;
    const rest = test[2] ?? "";
    if (rest !== "" && !/^[\s]/.test(rest)) continue;
    seen++;
    const directive = TAP_DIRECTIVE.exec(rest)?.[1]?.toLowerCase();
    if (directive === "skip" || (directive === "todo" && test[1] === "not ok")) skipped++;
    else if (test[1] === "ok") passed++;
    else failed++;
  }
  if (!isTap || !Number.isSafeInteger(planned)) return undefined;
  const notes = planned > seen
    ? [`TAP plan announced ${planned} tests but ${seen} reported (run stopped early?)`]
    : [];
  const tally = {
    testCount: Math.max(planned, seen),
    passedCount: passed,
    failedCount: failed,
    skippedCount: skipped,
  };
  return consistent(tally) ? { ...tally, source: "tap", notes } : undefined;
}

interface Summary {
  tally: Tally;
  runner: string;
}

const DENO = new RegExp(
  String
    .raw`^(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \(\d+ steps?\))?` +
    String
      .raw`(?: \| (\d+) ignored(?: \(\d+ steps?\))?)?(?: \| \d+ measured)?(?: \| \d+ filtered out)?` +
    String.raw`(?: \([^)]*\))?$`,
);

function words(parts: string[], allowed: ReadonlySet<string>): Map<string, number> | undefined {
  const out = new Map<string, number>();
  for (const part of parts) {
    const m = /^(\d+) ([a-z]+)$/.exec(part.trim());
    if (!m || !allowed.has(m[2]!)) return undefined;
    out.set(m[2]!, (out.get(m[2]!) ?? 0) + Number(m[1]));
  }
  return out;
}

const JEST_WORDS = new Set(["failed", "passed", "skipped", "todo", "pending", "total"]);
const VITEST_WORDS = new Set(["failed", "passed", "skipped", "todo"]);
const PYTEST_WORDS = new Set([
  "failed",
  "passed",
  "skipped",
  "deselected",
  "xfailed",
  "xpassed",
  "error",
  "errors",
  "warning",
  "warnings",
  "rerun",
  "reruns",
  "subtests",
]);

function jest(line: string): Tally | undefined {
  const m = /^Tests:\s+(.+)$/.exec(line.trim());
  const w = m && words(m[1]!.split(","), JEST_WORDS);
  if (!w || !w.has("total")) return undefined;
  const g = (k: string) => w.get(k) ?? 0;
  return {
    testCount: g("total"),
    passedCount: g("passed"),
    failedCount: g("failed"),
    skippedCount: g("skipped") + g("todo") + g("pending"),
  };
}

function vitest(line: string): Tally | undefined {
  const m = /^Tests\s+(.+?)\s+\((\d+)\)$/.exec(line.trim());
  const w = m && words(m[1]!.split("|"), VITEST_WORDS);
  if (!m || !w) return undefined;
  const g = (k: string) => w.get(k) ?? 0;
  return {
    testCount: Number(m[2]),
    passedCount: g("passed"),
    failedCount: g("failed"),
    skippedCount: g("skipped") + g("todo"),
  };
}

function pytest(line: string): Tally | undefined {
  const t = line.trim();
  if (/^=*\s*no tests ran in \d+(?:\.\d+)?s\b.*?=*$/.test(t)) return ZERO;
  const m = /^(?:=+ )?(\d+ [a-z]+(?:, \d+ [a-z]+)*) in \d+(?:\.\d+)?s(?: \([\d:.]+\))?(?: =+)?$/
    .exec(t);
  const w = m && words(m[1]!.split(","), PYTEST_WORDS);
  if (!w) return undefined;
  const g = (k: string) => w.get(k) ?? 0;
  const passed = g("passed") + g("xpassed");
  const failed = g("failed") + g("error") + g("errors");
  const skipped = g("skipped") + g("xfailed");
  if (passed + failed + skipped === 0 && !w.has("deselected")) return undefined;
  return {
    testCount: passed + failed + skipped,
    passedCount: passed,
    failedCount: failed,
    skippedCount: skipped,
  };
}

function goSummary(lines: string[]): { tally: Tally; note?: string } | undefined {
  const verbose = lines.some((l) => /^=== RUN\s/.test(l));
  if (verbose) {
    let tally = ZERO;
    let any = false;
    for (const l of lines) {
      const m = /^--- (PASS|FAIL|SKIP): \S/.exec(l);
      if (!m) continue;
      any = true;
      tally = add(tally, {
        testCount: 1,
        passedCount: m[1] === "PASS" ? 1 : 0,
        failedCount: m[1] === "FAIL" ? 1 : 0,
        skippedCount: m[1] === "SKIP" ? 1 : 0,
      });
    }
    if (any) return { tally };
  }
  let okPkgs = 0;
  let failPkgs = 0;
  for (const l of lines) {
    if (/^ok\s+\S+\s+(?:\d+(?:\.\d+)?s|\(cached\))(?:\s|$)/.test(l)) okPkgs++;
    else if (/^FAIL\s+\S+\s+(?:\d+(?:\.\d+)?s|\[[^\]]+\])(?:\s|$)/.test(l)) failPkgs++;
  }
  if (okPkgs + failPkgs === 0) return undefined;
  return {
    tally: {
      testCount: okPkgs + failPkgs,
      passedCount: okPkgs,
      failedCount: failPkgs,
      skippedCount: 0,
    },
    note: "go test: counted packages, not tests (run go test -v for per-test counts)",
  };
}

/**
 * Counts from runners' summary lines: Deno (`ok | 3 passed | 1 failed (…)`), Jest
 * (`Tests: 1 failed, 4 passed, 5 total`), Vitest (`Tests  1 failed | 4 passed (5)`), pytest
 * (`=== 1 failed, 4 passed in 0.12s ===`) and Go (`--- PASS:`/`--- FAIL:` with `-v`, else
 * `ok`/`FAIL` package lines). Every summary line found is added up (one command may run several
 * suites). Undefined when there is none.
 */
export function parseSummaryLines(output: string): TestCounts | undefined {
  const lines = cleanLines(output);
  const found: Summary[] = [];
  for (const line of lines) {
    const deno = DENO.exec(line.trim());
    if (deno) {
      const passed = Number(deno[1]);
      const failed = Number(deno[2]);
      const ignored = Number(deno[3] ?? 0);
      found.push({
        runner: "deno",
        tally: {
          testCount: passed + failed + ignored,
          passedCount: passed,
          failedCount: failed,
          skippedCount: ignored,
        },
      });
      continue;
    }
    for (
      const [runner, parse] of [["jest", jest], ["vitest", vitest], ["pytest", pytest]] as const
    ) {
      const tally = parse(line);
      if (tally) {
        found.push({ runner, tally });
        break;
      }
    }
  }
  const notes: string[] = [];
  const go = goSummary(lines);
  if (go) {
    found.push({ runner: "go", tally: go.tally });
    if (go.note) notes.push(go.note);
  }
  if (found.length === 0) return undefined;
  const tally = found.reduce((sum, s) => add(sum, s.tally), ZERO);
  if (!consistent(tally)) return undefined;
  const runners = [...new Set(found.map((s) => s.runner))];
  if (found.length > 1) notes.push(`added up ${found.length} summaries (${runners.join(", ")})`);
  return { ...tally, source: "summary", notes };
}

/**
 * Test counts for one command: from its JUnit XML reports when they all parse, else from TAP in
 * its output, else from runners' summary lines; undefined when none of them gives counts (the
 * caller then reports per-command results). Never throws.
 *
 * @example
 * ```ts
 * parseTestReport("ok | 3 passed | 1 failed (12ms)");
 * // { testCount: 4, passedCount: 3, failedCount: 1, skippedCount: 0, source: "summary", notes: [] }
 * ```
 */
export function parseTestReport(
  output: string,
  options: ParseTestReportOptions = {},
): TestCounts | undefined {
  let notes: string[] = [];
  if (options.junit && options.junit.length > 0) {
    const junit = fromJUnit(options.junit);
    if ("source" in junit) return junit;
    notes = junit.notes;
  }
  const counts = parseTap(output) ?? parseSummaryLines(output);
  return counts ? { ...counts, notes: [...notes, ...counts.notes] } : undefined;
}
