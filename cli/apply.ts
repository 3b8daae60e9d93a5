/**
 * `aphex apply`: the bootstrap (first install by hand). Reads the manifests `aphex generate`
 * wrote, shows a diff against the cluster and applies what changed with server-side apply (field
 * manager `aphex`, the same logic as the self-update stage), RBAC included; then prints the next
 * steps: the webhook URL to register in GitHub, how to check the EventSource, the Argo UI.
 * @module
 */
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import {
  type Command,
  type CommandContext,
  type OptionValues,
  runMain,
  str,
} from "../command/contract.ts";
import { checkConfigFile, DEFAULT_CONFIG_FILE } from "../command/config_file.ts";
import { ExitCode, usageError } from "../models/errors.ts";
import { MANIFEST_FILES } from "../templates/generate.ts";
import { IRSA_HELP_ANNOTATION } from "../templates/rbac.ts";
import { spec } from "./apply_spec.ts";
import { applyPlans, planObjects, renderPlans } from "../adapters/kubernetes/apply.ts";
import {
  createKubeClient,
  describeRef,
  type KubeClient,
  type KubeObject,
  loadKubeConfig,
} from "../adapters/kubernetes/client.ts";

/** Order in which the generated files are applied: identities and rights first. */
export const APPLY_ORDER: readonly string[] = [
  "rbac.yaml",
  "workflow-template.yaml",
  "event-source.yaml",
  "sensor.yaml",
];

/** Reads and parses the generated manifests of a directory, in {@linkcode APPLY_ORDER}. */
export async function readManifestDir(dir: string): Promise<KubeObject[]> {
  const known = new Set<string>(MANIFEST_FILES);
  const objects: KubeObject[] = [];
  let files = 0;
  for (const file of APPLY_ORDER) {
    if (!known.has(file)) continue;
    const path = join(dir, file);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw usageError(`${path}: cannot read: ${e instanceof Error ? e.message : e}`);
    }
    files++;
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) {
        throw usageError(`${path}: invalid YAML: ${doc.errors[0]!.message}`);
      }
      const value = doc.toJS();
      if (value === null || value === undefined) continue;
      const m = value as Partial<KubeObject>;
      if (
        typeof m !== "object" || typeof m.apiVersion !== "string" || typeof m.kind !== "string" ||
        typeof m.metadata?.name !== "string"
      ) {
        throw usageError(
          `${path}: every document must be a Kubernetes object (apiVersion, kind, metadata.name)`,
        );
      }
      objects.push(m as KubeObject);
    }
  }
  if (files === 0) {
    throw usageError(
      `${dir}: no generated manifests (${APPLY_ORDER.join(", ")}); run 'aphex generate' first`,
    );
  }
  return objects;
}

/** What the next-steps text is built from. */
export interface NextStepsInfo {
  /** Objects applied (or planned). */
  objects: readonly KubeObject[];
  /** `pipeline.argoUrl`, if known. */
  argoUrl?: string;
}

/** The "what now" text printed after a bootstrap. */
export function renderNextSteps(info: NextStepsInfo): string {
  const lines = ["", "Next steps:"];
  const es = info.objects.find((o) => o.kind === "EventSource");
  const template = info.objects.find((o) => o.kind === "WorkflowTemplate");
  const sa = info.objects.find((o) =>
    o.kind === "ServiceAccount" && o.metadata.annotations?.[IRSA_HELP_ANNOTATION] !== undefined
  );
  let step = 1;
  if (sa) {
    lines.push(
      `  ${step++}. Give the pipeline its AWS role: set pipeline.roleArn in aphex-config.yaml ` +
        `(the IAM role your pipeline stack creates), then aphex generate and aphex apply again ` +
        `(ServiceAccount ${sa.metadata.namespace}/${sa.metadata.name} has no IRSA role yet)`,
    );
  }
  if (es) {
    const ns = es.metadata.namespace ?? "default";
    const github = (es.spec as { github?: Record<string, GithubSource> } | undefined)?.github ?? {};
    for (const source of Object.values(github)) {
      const hook = source.webhook;
      if (hook?.url) {
        const url = hook.url.replace(/\/+$/, "") + (hook.endpoint ?? "");
        const events = (source.events ?? ["push"]).join(", ");
        lines.push(
          source.apiToken
            ? `  ${step++}. Webhook URL: ${url} (Argo Events registers it in GitHub with the API ` +
              `token in Secret ${source.apiToken.name}; check the repository's Settings → Webhooks)`
            : `  ${step++}. Register the GitHub webhook (content type application/json, events: ` +
              `${events}): ${url}`,
        );
      }
      if (source.webhookSecret) {
        lines.push(
          `     Its secret must be in the Secret ${source.webhookSecret.name} (key ${source.webhookSecret.key}) ` +
            `in namespace ${ns}: kubectl -n ${ns} create secret generic ${source.webhookSecret.name} ` +
            `--from-literal=${source.webhookSecret.key}=<secret>`,
        );
      }
    }
    lines.push(
      `  ${step++}. Check the EventSource and Sensor: kubectl -n ${ns} get eventsource,sensor ` +
        `(and kubectl -n ${ns} get pods for their deployments)`,
    );
  }
  if (template) {
    const ns = template.metadata.namespace ?? "default";
    lines.push(
      `  ${step++}. Check the pipeline template: kubectl -n ${ns} get workflowtemplate ${template.metadata.name}`,
    );
    lines.push(
      `  ${step++}. Watch runs in the Argo UI: ${
        info.argoUrl
          ? `${info.argoUrl.replace(/\/+$/, "")}/workflows/${ns}`
          : `kubectl -n argo port-forward svc/argo-server 2746:2746, then https://localhost:2746/workflows/${ns}`
      }`,
    );
  }
  lines.push(
    `  ${step}. Push a commit: the pipeline updates its own manifests from then on (aphex pipeline-update).`,
  );
  return lines.join("\n") + "\n";
}

interface GithubSource {
  webhook?: { url?: string; endpoint?: string };
  events?: string[];
  webhookSecret?: { name: string; key: string };
  apiToken?: { name: string; key: string };
}

/** Options of {@linkcode runApply}. */
export interface ApplyOptions {
  /** Manifest directory (absolute). */
  dir: string;
  /** Diff only. */
  dryRun: boolean;
  /** Server-side apply `force=true`. */
  forceConflicts: boolean;
  /** `pipeline.argoUrl` for the next steps. */
  argoUrl?: string;
}

/** Result of {@linkcode runApply}. */
export interface ApplyOutcome {
  /** Objects read from the directory. */
  objects: KubeObject[];
  /** Objects written, as `Kind namespace/name`. */
  applied: string[];
  /** Objects already up to date. */
  unchanged: string[];
}

/**
 * Applies a manifest directory: reads, diffs (printed with `out`), applies changed objects with
 * server-side apply unless `dryRun`, prints the next steps. API failures throw (exit 1).
 */
export async function runApply(
  client: KubeClient,
  options: ApplyOptions & { out: (text: string) => void; log: (line: string) => void },
): Promise<ApplyOutcome> {
  const objects = await readManifestDir(options.dir);
  const plans = await planObjects(client, objects);
  options.out(renderPlans(plans));
  const changed = plans.filter((p) => p.action !== "unchanged");
  const outcome: ApplyOutcome = {
    objects,
    applied: [],
    unchanged: plans.filter((p) => p.action === "unchanged").map((p) => describeRef(p.ref)),
  };
  if (options.dryRun) {
    options.log(
      `dry run: ${changed.length} of ${plans.length} object(s) would change; nothing applied`,
    );
    return outcome;
  }
  if (changed.length === 0) {
    options.log(`all ${plans.length} object(s) are up to date; nothing to apply`);
  } else {
    await applyPlans(client, plans, { force: options.forceConflicts, log: options.log });
    outcome.applied = changed.map((p) => describeRef(p.ref));
    options.log(`applied ${changed.length} object(s) to ${client.server}`);
  }
  options.out(renderNextSteps({
    objects,
    ...(options.argoUrl ? { argoUrl: options.argoUrl } : {}),
  }));
  return outcome;
}

/** `aphex apply`. */
export const command: Command = {
  spec,
  async run(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
    const dir = resolve(ctx.cwd, str(values, "dir") ?? "manifests");
    let argoUrl: string | undefined;
    const configFile = str(values, "config") ?? DEFAULT_CONFIG_FILE;
    try {
      const parsed = await checkConfigFile(configFile, { cwd: ctx.cwd });
      if (parsed.ok) argoUrl = parsed.config.pipeline.argoUrl;
    } catch {
      // The configuration is optional here: only the Argo UI URL comes from it.
    }
    const kubeconfig = str(values, "kubeconfig");
    const client = createKubeClient(
      await loadKubeConfig({ ...(kubeconfig ? { kubeconfig } : {}), env: ctx.env, cwd: ctx.cwd }),
    );
    await runApply(client, {
      dir,
      dryRun: values["dry-run"] === true,
      forceConflicts: values["force-conflicts"] === true,
      ...(argoUrl ? { argoUrl } : {}),
      out: ctx.stdout,
      log: (line) => ctx.stderr(`[apply] ${line}\n`),
    });
    return ExitCode.Ok;
  },
};

if (import.meta.main) await runMain(command);
