import assert from "node:assert/strict";
import { openStageLog } from "./stage_log.ts";

Deno.test("stage log: the sink and the file get the same redacted lines; learnt secrets count from then on", async () => {
  const seen: string[] = [];
  const journal = await openStageLog("unit", {
    sink: (line) => seen.push(line),
    secrets: ["hunter2-password"],
  });
  try {
    journal.log("pw=hunter2-password");
    journal.log("session ASIA-SESSION-TOKEN-1");
    journal.addSecrets(["ASIA-SESSION-TOKEN-1"]);
    journal.log("session ASIA-SESSION-TOKEN-1");
    assert.equal(journal.redact("x ASIA-SESSION-TOKEN-1 y"), "x *** y");
    assert.deepEqual(seen, [
      "pw=***",
      "session ASIA-SESSION-TOKEN-1",
      "session ***",
    ]);
    assert.equal(await Deno.readTextFile(journal.file), seen.join("\n") + "\n");
  } finally {
    await journal.close();
  }
  await assert.rejects(Deno.stat(journal.file), Deno.errors.NotFound);
});
