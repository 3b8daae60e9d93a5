/**
 * Rules on single values of the configuration that the schema cannot express: commands (no control
 * characters, no leading `-`) and `pipeline.image` (a version tag, better a digest).
 * `aphex validate` reports them located like every other configuration problem.
 * No I/O happens in this module.
 * @module
 */

/**
 * Control characters a command may not contain: every C0 control but tab, line feed and carriage
 * return (multi-line commands are YAML block scalars), and DEL. A NUL cannot even reach bash
 * ("nul byte found"); the others are invisible in review and in logs.
 */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const COMMAND_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Why a command is refused, if it is: a control character, or a first word starting with `-`. */
export function commandProblem(command: string): string | undefined {
  const control = COMMAND_CONTROL.exec(command);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).padStart(4, "0");
    return `must not contain control characters (found U+${code.toUpperCase()} at character ` +
      `${control.index + 1}); remove it`;
  }
  if (command.trimStart().startsWith("-")) {
    return "must not start with '-' (bash would read it as an option, not a command)";
  }
  return undefined;
}

/** A container image reference split into its parts. */
export interface ImageReference {
  /** Repository, registry included (`ghcr.io/aphex-dev/aphex`). */
  name: string;
  /** Tag, if any (`0.1.0`). */
  tag?: string;
  /** Digest, if any (`sha256:…`). */
  digest?: string;
}

/** Splits `registry[:port]/name[:tag][@digest]`; the tag is after the last `/`. */
export function parseImageReference(image: string): ImageReference {
  const at = image.indexOf("@");
  const withoutDigest = at === -1 ? image : image.slice(0, at);
  const colon = withoutDigest.lastIndexOf(":");
  const hasTag = colon > withoutDigest.lastIndexOf("/");
  const ref: ImageReference = { name: hasTag ? withoutDigest.slice(0, colon) : withoutDigest };
  if (hasTag) ref.tag = withoutDigest.slice(colon + 1);
  if (at !== -1) ref.digest = image.slice(at + 1);
  return ref;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * Why `pipeline.image` is refused, if it is. A run must execute the image it was generated for:
 * no tag means `latest`, and `latest` (like any tag) can be repointed at any time; a digest pins it.
 */
export function imageProblem(image: string): string | undefined {
  const ref = parseImageReference(image);
  if (ref.digest !== undefined && !DIGEST.test(ref.digest)) {
    return `digest "${ref.digest}" must be sha256: followed by 64 lowercase hex digits`;
  }
  if (ref.tag === "") return "must not end with ':'; give a version tag such as :1.2.3";
  if (ref.digest !== undefined) return undefined;
  if (ref.tag === undefined) {
    return "needs a version tag, preferably with a digest (name:1.2.3@sha256:…); without one " +
      "every run pulls whatever 'latest' points at that day";
  }
  if (ref.tag === "latest") {
    return "must not use the tag 'latest' (it moves); pin a version tag, preferably with a " +
      "digest (name:1.2.3@sha256:…)";
  }
  return undefined;
}
