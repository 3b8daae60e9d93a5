// Types of the generated schema/_validate_config.js (see tools/build_schema_validator.ts).
import type { ErrorObject } from "ajv";

/** Validates a loaded configuration against schema/aphex-config.schema.json. */
export interface ConfigValidator {
  (data: unknown): boolean;
  /** Errors of the last call (ajv `allErrors` + `verbose`), or null when valid. */
  errors?: ErrorObject[] | null;
}

/** The compiled validator. */
export declare const validate: ConfigValidator;
