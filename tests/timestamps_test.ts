/**
 * Records written by other tools use any ISO-8601 form: offsets (`+00:00`, `-0500`), microseconds
 * or nanoseconds. They are read (normalized to UTC) and always written back with `Z`.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { fromJsonText, parseIsoDateTime, toJsonText } from "../models/_codec.ts";
import { AphexError } from "../models/errors.ts";
import { WorkflowMetadataCodec } from "../models/metadata.ts";

const run = (triggeredAt: string) =>
  JSON.stringify({
    workflowId: "w",
    commitSha: "a".repeat(40),
    branch: "main",
    triggeredAt,
    completedAt: null,
    status: "running",
    stages: [{
      stageName: "build",
      startedAt: triggeredAt,
      completedAt: null,
      status: "running",
      errorMessage: null,
    }],
  });

Deno.test("records with offsets and microseconds are read, normalized to UTC, written with Z", () => {
  const cases: [string, string][] = [
    ["2024-01-15T10:30:00+00:00", "2024-01-15T10:30:00.000Z"],
    ["2024-01-15T10:30:00.123456+00:00", "2024-01-15T10:30:00.123Z"],
    ["2024-01-15T10:30:00.123456Z", "2024-01-15T10:30:00.123Z"],
    ["2024-01-15T10:30:00.123456789Z", "2024-01-15T10:30:00.123Z"],
    ["2024-01-15T12:30:00+02:00", "2024-01-15T10:30:00.000Z"],
    ["2024-01-15T05:30:00.5-0500", "2024-01-15T10:30:00.500Z"],
    ["2024-01-01T00:30:00+01:00", "2023-12-31T23:30:00.000Z"],
    ["2024-01-15t10:30:00z", "2024-01-15T10:30:00.000Z"],
  ];
  for (const [input, utc] of cases) {
    const decoded = fromJsonText(WorkflowMetadataCodec, run(input), input);
    assert.equal(decoded.triggeredAt.toISOString(), utc, input);
    assert.equal(decoded.stages[0]!.startedAt.toISOString(), utc, input);
    const written = JSON.parse(toJsonText(WorkflowMetadataCodec, decoded));
    assert.equal(written.triggeredAt, utc);
  }
});

Deno.test("timestamps without a zone or with impossible fields are still refused", () => {
  for (
    const input of [
      "2024-01-15T10:30:00", // local time: ambiguous
      "2024-01-15 10:30:00Z",
      "2024-02-30T10:30:00Z",
      "2024-13-01T10:30:00Z",
      "2024-01-15T24:00:00Z",
      "2024-01-15T10:30:00+24:00",
      "2024-01-15T10:30:00.Z",
      "2024-01-15T10:30:00.1234567890Z",
      "2024-01-15",
      "",
    ]
  ) {
    assert.throws(
      () => fromJsonText(WorkflowMetadataCodec, run(input), "run.json"),
      (e: unknown) => e instanceof AphexError && /triggeredAt: must be an ISO-8601/.test(e.message),
      input,
    );
  }
});

Deno.test("property: any instant written with any offset and precision reads back to it", () => {
  const instant = fc.date({
    min: new Date("0001-01-02T00:00:00Z"),
    max: new Date("9999-12-30T00:00:00Z"),
    noInvalidDate: true,
  });
  const offset = fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 });
  fc.assert(
    fc.property(instant, offset, fc.nat({ max: 999_999 }), (date, minutes, extra) => {
      const shifted = new Date(date.getTime() + minutes * 60_000);
      const local = shifted.toISOString().slice(0, 23); // yyyy-mm-ddThh:mm:ss.mmm
      const sign = minutes < 0 ? "-" : "+";
      const abs = Math.abs(minutes);
      const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${
        String(abs % 60).padStart(2, "0")
      }`;
      const micro = `${local}${String(extra).padStart(6, "0")}${zone}`; // nanosecond precision
      assert.equal(parseIsoDateTime(micro)?.getTime(), date.getTime(), micro);
      assert.equal(parseIsoDateTime(`${local}${zone}`)?.getTime(), date.getTime());
      assert.equal(parseIsoDateTime(date.toISOString())?.getTime(), date.getTime());
    }),
    { numRuns: 500 },
  );
});
