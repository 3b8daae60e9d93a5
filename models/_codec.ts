/**
 * Tiny JSON codecs: one declaration per model gives a typed encoder (Dates → ISO-8601 UTC strings)
 * and a validating decoder whose errors name the offending path. Internal to `models/`.
 * @module
 */
import { AphexError } from "./errors.ts";

/** Encodes `T` to JSON-safe data and decodes (validating) back. */
export interface Codec<T> {
  /** T → JSON-safe value. */
  encode(value: T): unknown;
  /** JSON value → T; throws {@linkcode AphexError} naming `path` on bad input. */
  decode(value: unknown, path: string): T;
}

function bad(path: string, expected: string, value: unknown): never {
  const got = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
  throw new AphexError(`${path || "(root)"}: must be ${expected}, got ${got}`);
}

/** A string. */
export const string: Codec<string> = {
  encode: (v) => v,
  decode: (v, p) => typeof v === "string" ? v : bad(p, "a string", v),
};

/** A finite number. */
export const number: Codec<number> = {
  encode: (v) => v,
  decode: (v, p) => typeof v === "number" && Number.isFinite(v) ? v : bad(p, "a finite number", v),
};

/** A safe integer. */
export const integer: Codec<number> = {
  encode: (v) => v,
  decode: (v, p) => Number.isSafeInteger(v) ? v as number : bad(p, "an integer", v),
};

/** A boolean. */
export const boolean: Codec<boolean> = {
  encode: (v) => v,
  decode: (v, p) => typeof v === "boolean" ? v : bad(p, "a boolean", v),
};

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** A Date, as an ISO-8601 UTC string (`2024-01-15T10:30:00.000Z`). */
export const date: Codec<Date> = {
  encode: (v) => v.toISOString(),
  decode: (v, p) => {
    if (typeof v !== "string" || !ISO_UTC.test(v) || Number.isNaN(Date.parse(v))) {
      return bad(p, "an ISO-8601 UTC timestamp such as 2024-01-15T10:30:00Z", v);
    }
    return new Date(v);
  },
};

/** One of a fixed set of strings. */
export function literal<const L extends string>(...values: L[]): Codec<L> {
  return {
    encode: (v) => v,
    decode: (v, p) =>
      values.includes(v as L)
        ? v as L
        : bad(p, `one of ${values.map((x) => `"${x}"`).join(", ")}`, v),
  };
}

/** `T` or `null`. */
export function nullable<T>(inner: Codec<T>): Codec<T | null> {
  return {
    encode: (v) => v === null ? null : inner.encode(v),
    decode: (v, p) => v === null ? null : inner.decode(v, p),
  };
}

/** An array of `T`. */
export function array<T>(inner: Codec<T>): Codec<T[]> {
  return {
    encode: (v) => v.map((x) => inner.encode(x)),
    decode: (v, p) =>
      Array.isArray(v) ? v.map((x, i) => inner.decode(x, `${p}[${i}]`)) : bad(p, "an array", v),
  };
}

/** A string-keyed map of `T`. */
export function record<T>(inner: Codec<T>): Codec<Record<string, T>> {
  return {
    encode: (v) => Object.fromEntries(Object.entries(v).map(([k, x]) => [k, inner.encode(x)])),
    decode: (v, p) => {
      if (!isPlainObject(v)) return bad(p, "an object", v);
      const out: Record<string, T> = {};
      for (const [k, x] of Object.entries(v)) {
        Object.defineProperty(out, k, {
          value: inner.decode(x, `${p}.${k}`),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    },
  };
}

/** A field that older documents may lack: decoded as `fallback` when absent, always encoded. */
export function withDefault<T>(inner: Codec<T>, fallback: T): Codec<T> {
  return {
    encode: (v) => inner.encode(v),
    decode: (v, p) => (v === undefined ? fallback : inner.decode(v, p)),
  };
}

/** Any JSON value, kept as is. */
export const json: Codec<unknown> = { encode: (v) => v, decode: (v) => v };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An object with exactly the declared fields (unknown fields are rejected). */
export function object<T>(fields: { [K in keyof T]-?: Codec<T[K]> }): Codec<T> {
  const keys = Object.keys(fields) as (keyof T & string)[];
  return {
    encode: (v) => Object.fromEntries(keys.map((k) => [k, fields[k].encode(v[k])])),
    decode: (v, p) => {
      if (!isPlainObject(v)) return bad(p, "an object", v);
      for (const k of Object.keys(v)) {
        if (!(k in fields)) throw new AphexError(`${p ? `${p}.` : ""}${k}: unknown field`);
      }
      const out = {} as T;
      for (const k of keys) out[k] = fields[k].decode(v[k], p ? `${p}.${k}` : k);
      return out;
    },
  };
}

/** Encodes `value` to a JSON string (2-space indent when `pretty`). */
export function toJsonText<T>(codec: Codec<T>, value: T, pretty = false): string {
  return JSON.stringify(codec.encode(value), null, pretty ? 2 : undefined);
}

/** Parses and decodes a JSON string; `what` names the model in errors. */
export function fromJsonText<T>(codec: Codec<T>, text: string, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new AphexError(`${what}: invalid JSON: ${e instanceof Error ? e.message : e}`);
  }
  try {
    return codec.decode(value, "");
  } catch (e) {
    if (e instanceof AphexError) throw new AphexError(`${what}: ${e.message}`);
    throw e;
  }
}
