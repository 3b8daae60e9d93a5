/**
 * Parsed GitHub webhook event (spec: GitHubEvent), with its JSON codec.
 * @module
 */
import { type Codec, date, object, string } from "./_codec.ts";

/** A parsed GitHub push or pull-request event. */
export interface GitHubEvent {
  /** Commit SHA the run must use (40 lowercase hex characters). */
  commitSha: string;
  /** Git ref, e.g. `refs/heads/main`. */
  branch: string;
  /** Repository clone URL. */
  repoUrl: string;
  /** Commit author. */
  author: string;
  /** Commit message (or PR title). */
  message: string;
  /** Commit timestamp. */
  timestamp: Date;
}

/** JSON codec of {@linkcode GitHubEvent}. */
export const GitHubEventCodec: Codec<GitHubEvent> = object<GitHubEvent>({
  commitSha: string,
  branch: string,
  repoUrl: string,
  author: string,
  message: string,
  timestamp: date,
});

/** A full lowercase commit SHA. */
export const COMMIT_SHA_PATTERN: RegExp = /^[0-9a-f]{40}$/;
