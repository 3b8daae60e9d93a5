/**
 * Typed shapes of the Kubernetes, Argo Workflows and Argo Events objects Aphex generates.
 *
 * Only the fields Aphex emits are declared; every name matches the official schemas (Argo Workflows
 * ≥ 3.6, Argo Events 1.9). Int-or-string fields are typed `string` on purpose: the serializer
 * emits them as strings. No I/O happens in this module.
 * @module
 */

/** Kubernetes object metadata (the subset Aphex sets). */
export interface ObjectMeta {
  /** Object name. */
  name: string;
  /** Namespace. */
  namespace?: string;
  /** Labels. */
  labels?: Record<string, string>;
  /** Annotations. */
  annotations?: Record<string, string>;
}

/** Any generated Kubernetes object: `apiVersion`, `kind`, `metadata` first. */
export interface Manifest {
  /** API group/version. */
  apiVersion: string;
  /** Object kind. */
  kind: string;
  /** Metadata. */
  metadata: ObjectMeta;
}

/** A reference to one key of a Secret. */
export interface SecretKeySelector {
  /** Secret name. */
  name: string;
  /** Key inside the secret. */
  key: string;
  /** Whether a missing secret or key is tolerated. */
  optional?: boolean;
}

/** One container environment variable. */
export interface EnvVar {
  /** Variable name. */
  name: string;
  /** Literal value (may hold an Argo `{{…}}` reference: env values are data, never shell text). */
  value?: string;
  /** Value from a secret, or from the pod itself (downward API). */
  valueFrom?: { secretKeyRef: SecretKeySelector } | { fieldRef: { fieldPath: string } };
}

/** A container of an Argo template. */
export interface Container {
  /** Container name (`main` for Argo container templates). */
  name: string;
  /** Image. */
  image: string;
  /** Image pull policy. */
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /** Executable (argv[0..]); never a shell. */
  command: string[];
  /** Arguments; literal strings only. */
  args: string[];
  /** Environment. */
  env: EnvVar[];
  /** Volume mounts. */
  volumeMounts?: { name: string; mountPath: string }[];
}

/** An Argo parameter. */
export interface Parameter {
  /** Name. */
  name: string;
  /** Value. */
  value?: string;
  /** Default of an input parameter the caller may leave out. */
  default?: string;
  /** Description. */
  description?: string;
}

/** One task of an Argo DAG. */
export interface DagTask {
  /** Task name (unique in the DAG). */
  name: string;
  /** Template the task runs. */
  template: string;
  /** Dependency expression. */
  depends?: string;
  /** Arguments for the template. */
  arguments?: { parameters: Parameter[] };
  /** Condition (Argo expression); the task is skipped when false. */
  when?: string;
}

/** An output parameter read from a file the step wrote. */
export interface OutputParameter {
  /** Name. */
  name: string;
  /** Where the value comes from, and its value when the file is missing. */
  valueFrom: { path: string; default: string };
}

/** Argo retry strategy. */
export interface RetryStrategy {
  /** Which failures are retried. */
  retryPolicy: "Always" | "OnFailure" | "OnError" | "OnTransientError";
  /** Retry limit (int-or-string, emitted as a string). */
  limit: string;
}

/** One Argo template: a DAG, a container or a suspend gate. */
export interface Template {
  /** Template name. */
  name: string;
  /** Inputs. */
  inputs?: { parameters: Parameter[] };
  /** Outputs. */
  outputs?: { parameters: OutputParameter[] };
  /** DAG body. */
  dag?: {
    /** `false`: every branch runs to its end after a task failed (default true: no new task). */
    failFast?: boolean;
    tasks: DagTask[];
  };
  /** Suspend body (manual approval). */
  suspend?: { duration?: string };
  /** Container body. */
  container?: Container;
  /** Deadline of the step's pod in seconds (int-or-string, emitted as a string). */
  activeDeadlineSeconds?: string;
  /** Retry strategy. */
  retryStrategy?: RetryStrategy;
  /** Service account of this template's pods. */
  serviceAccountName?: string;
}

/** `spec` of an Argo WorkflowTemplate. */
export interface WorkflowTemplateSpec {
  /** Entry template. */
  entrypoint: string;
  /** Exit handler template. */
  onExit?: string;
  /** Service account of the workflow's pods. */
  serviceAccountName: string;
  /** Workflow parameters. */
  arguments: { parameters: Parameter[] };
  /** Mutual exclusion of runs (Argo ≥ 3.6 `mutexes`). */
  synchronization?: { mutexes: { name: string }[] };
  /** Deadline of the whole workflow in seconds. */
  activeDeadlineSeconds?: number;
  /** How long finished workflows are kept. */
  ttlStrategy?: { secondsAfterSuccess?: number; secondsAfterFailure?: number };
  /** When pods are deleted. */
  podGC?: {
    strategy: "OnPodCompletion" | "OnPodSuccess" | "OnWorkflowCompletion" | "OnWorkflowSuccess";
  };
  /** Pod-level volumes. */
  volumes?: { name: string; emptyDir: Record<string, never> }[];
  /** Volumes created once per Workflow and shared by its steps (deleted with the Workflow). */
  volumeClaimTemplates?: {
    apiVersion: "v1";
    kind: "PersistentVolumeClaim";
    metadata: { name: string };
    spec: { accessModes: string[]; resources: { requests: { storage: string } } };
  }[];
  /** Templates. */
  templates: Template[];
}

/** Argo WorkflowTemplate. */
export interface WorkflowTemplate extends Manifest {
  /** Always `argoproj.io/v1alpha1`. */
  apiVersion: "argoproj.io/v1alpha1";
  /** Always `WorkflowTemplate`. */
  kind: "WorkflowTemplate";
  /** Spec. */
  spec: WorkflowTemplateSpec;
}

/** The Workflow object a Sensor trigger creates. */
export interface WorkflowResource extends Manifest {
  /** Always `argoproj.io/v1alpha1`. */
  apiVersion: "argoproj.io/v1alpha1";
  /** Always `Workflow`. */
  kind: "Workflow";
  /** Spec: a reference to the template plus its parameters. */
  spec: {
    workflowTemplateRef: { name: string };
    arguments: { parameters: Parameter[] };
  };
}

/** Argo Events GitHub event source entry. */
export interface GithubEventSource {
  /** Repositories watched. */
  repositories: { owner: string; names: string[] }[];
  /** Webhook HTTP server. */
  webhook: { endpoint: string; port: string; method: "POST"; url: string };
  /** GitHub event types. */
  events: string[];
  /** HMAC secret (always set). */
  webhookSecret: SecretKeySelector;
  /** API token (registers the webhook), if configured. */
  apiToken?: SecretKeySelector;
  /** Payload content type. */
  contentType: "json";
  /** Whether the registered hook is active. */
  active: boolean;
  /** TLS verification of GitHub (never disabled). */
  insecure: false;
}

/** Argo Events EventSource. */
export interface EventSource extends Manifest {
  /** Always `argoproj.io/v1alpha1`. */
  apiVersion: "argoproj.io/v1alpha1";
  /** Always `EventSource`. */
  kind: "EventSource";
  /** Spec. */
  spec: {
    service: { ports: { name: string; port: number }[] };
    github: Record<string, GithubEventSource>;
  };
}

/** Argo Events data filter (string values are regular expressions). */
export interface DataFilter {
  /** JSON path in the event data. */
  path: string;
  /** JSON type. */
  type: "string" | "bool" | "number";
  /** Accepted values. */
  value: string[];
  /** Comparator (`=` when unset). */
  comparator?: "=" | "!=";
}

/** Argo Events sensor dependency. */
export interface EventDependency {
  /** Dependency name. */
  name: string;
  /** EventSource name. */
  eventSourceName: string;
  /** Event name inside the EventSource. */
  eventName: string;
  /** Filters (all must pass). */
  filters: { dataLogicalOperator: "and"; data: DataFilter[] };
}

/** Argo Events trigger parameter. */
export interface TriggerParameter {
  /** Source: a key of the event data of a dependency. */
  /** Where the value comes from: a payload path (`dataKey`) or a Go template over the event. */
  src: { dependencyName: string; dataKey: string } | {
    dependencyName: string;
    dataTemplate: string;
  };
  /** Destination path in the resource. */
  dest: string;
  /** How the value is applied. */
  operation?: "append" | "overwrite" | "prepend";
}

/** Argo Events trigger creating a Kubernetes resource. */
export interface Trigger {
  /** Trigger template. */
  template: {
    name: string;
    conditions: string;
    k8s: {
      operation: "create";
      source: { resource: WorkflowResource };
      parameters: TriggerParameter[];
    };
  };
  /** Retry on transient API errors. */
  retryStrategy: { steps: number; duration: string };
  /** At-least-once delivery (safe: the Workflow name is unique per commit). */
  atLeastOnce: boolean;
}

/** Argo Events Sensor. */
export interface Sensor extends Manifest {
  /** Always `argoproj.io/v1alpha1`. */
  apiVersion: "argoproj.io/v1alpha1";
  /** Always `Sensor`. */
  kind: "Sensor";
  /** Spec. */
  spec: {
    template: { serviceAccountName: string };
    dependencies: EventDependency[];
    triggers: Trigger[];
  };
}

/** Kubernetes ServiceAccount. */
export interface ServiceAccount extends Manifest {
  /** Always `v1`. */
  apiVersion: "v1";
  /** Always `ServiceAccount`. */
  kind: "ServiceAccount";
}

/** One RBAC rule. */
export interface PolicyRule {
  /** API groups. */
  apiGroups: string[];
  /** Resources. */
  resources: string[];
  /** Object names the rule is limited to. */
  resourceNames?: string[];
  /** Verbs. */
  verbs: string[];
}

/** Kubernetes Role. */
export interface Role extends Manifest {
  /** Always `rbac.authorization.k8s.io/v1`. */
  apiVersion: "rbac.authorization.k8s.io/v1";
  /** Always `Role`. */
  kind: "Role";
  /** Rules. */
  rules: PolicyRule[];
}

/** Kubernetes RoleBinding. */
export interface RoleBinding extends Manifest {
  /** Always `rbac.authorization.k8s.io/v1`. */
  apiVersion: "rbac.authorization.k8s.io/v1";
  /** Always `RoleBinding`. */
  kind: "RoleBinding";
  /** Bound role. */
  roleRef: { apiGroup: "rbac.authorization.k8s.io"; kind: "Role"; name: string };
  /** Subjects. */
  subjects: { kind: "ServiceAccount"; name: string; namespace: string }[];
}
