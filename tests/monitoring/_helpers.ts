/**
 * Test helpers of the monitoring tests: a loopback HTTP server standing in for Slack and the GitHub
 * statuses API, a recording sleep, temp stores and sample runs.
 * @module
 */
import { LocalArtifactStore } from "../../adapters/store/local_store.ts";
import type { WorkflowMetadata } from "../../models/metadata.ts";

/** One request received by the loopback server. */
export interface CapturedRequest {
  /** HTTP method. */
  method: string;
  /** Path and query. */
  path: string;
  /** Lowercase header names → values. */
  headers: Record<string, string>;
  /** Body text. */
  body: string;
}

/** A loopback server recording requests; `respond` picks the status of the n-th request (0-based). */
export interface LoopbackServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Requests received, in order. */
  requests: CapturedRequest[];
  /** Stops the server. */
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1, port 0. */
export function startLoopback(
  respond: (req: CapturedRequest, n: number) => number = () => 200,
): LoopbackServer {
  const requests: CapturedRequest[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      const captured: CapturedRequest = {
        method: req.method,
        path: url.pathname + url.search,
        headers: Object.fromEntries(req.headers.entries()),
        body: await req.text(),
      };
      const n = requests.length;
      requests.push(captured);
      const status = respond(captured, n);
      return new Response(status >= 400 ? "server says no" : "ok", { status });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    close: () => server.shutdown(),
  };
}

/** A URL on 127.0.0.1 where nothing listens (a server was started there and stopped). */
export async function closedPortUrl(): Promise<string> {
  const server = startLoopback();
  const url = server.url;
  await server.close();
  return url;
}

/** A sleep that records the requested delays and returns at once. */
export function recordingSleep(): { sleep: (ms: number) => Promise<void>; delays: number[] } {
  const delays: number[] = [];
  return { delays, sleep: (ms) => (delays.push(ms), Promise.resolve()) };
}

/** Runs `fn` with a fresh local store in a temp dir, removed afterwards. */
export async function withTempStore<T>(
  fn: (store: LocalArtifactStore, dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "aphex-monitoring-" });
  try {
    return await fn(new LocalArtifactStore(`${dir}/store`), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A 40-hex commit SHA. */
export const SHA = "0123456789abcdef0123456789abcdef01234567";

/** An error as the AWS SDK shapes it (name + message). */
export function awsError(name: string, message = name): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

/** A failed run: build ok, deploy-dev failed. */
export function failedRun(): WorkflowMetadata {
  return {
    workflowId: "webshop-abc12",
    commitSha: SHA,
    branch: "main",
    triggeredAt: new Date("2026-11-25T10:00:00.000Z"),
    completedAt: new Date("2026-11-25T10:12:30.000Z"),
    status: "failed",
    stages: [
      {
        stageName: "build",
        startedAt: new Date("2026-11-25T10:00:05.000Z"),
        completedAt: new Date("2026-11-25T10:03:00.000Z"),
        status: "succeeded",
        errorMessage: null,
      },
      {
        stageName: "deploy-dev",
        startedAt: new Date("2026-11-25T10:05:00.000Z"),
        completedAt: new Date("2026-11-25T10:12:00.000Z"),
        status: "failed",
        errorMessage: "stack Api failed: CREATE_FAILED Bucket (already exists)",
      },
    ],
  };
}
