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

/**
 * An ISO-8601 date-time with a UTC designator or offset: `2024-01-15T10:30:00Z`,
 * `2024-01-15T10:30:00.123456+00:00`, `2024-01-15T12:30:00+0200`. Fractions up to nanoseconds.
 */
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/;

/**
 * Parses an ISO-8601 date-time that carries its zone (a bare local time is ambiguous and refused)
 * into a UTC Date, or undefined. Digits beyond milliseconds are truncated (a Date holds ms).
 * Out-of-range fields (month 13, 24:00, Feb 30, offset 24:00) are refused, not rolled over.
 */
export function parseIsoDateTime(text: string): Date | undefined {
  const m = ISO_DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Number((m[7] ?? "0").padEnd(3, "0").slice(0, 3));
  const sign = m[9] === "-" ? -1 : 1;
  const offsetHours = m[9] ? Number(m[10]) : 0;
  const offsetMinutes = m[9] ? Number(m[11]) : 0;
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const check = new Date(0);
  check.setUTCFullYear(year, month - 1, day); // not Date.UTC: it maps years 0–99 to 1900–1999
  check.setUTCHours(hour, minute, second, ms);
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month - 1) return undefined;
  const out = new Date(check.getTime() - sign * (offsetHours * 60 + offsetMinutes) * 60_000);
  return Number.isNaN(out.getTime()) ? undefined : out;
}

/**
 * A Date. Written as ISO-8601 UTC (`2024-01-15T10:30:00.000Z`); read liberally: any ISO-8601
 * date-time with `Z` or an offset, normalized to UTC (records written by other tools).
 */
export const date: Codec<Date> = {
  encode: (v) => v.toISOString(),
  decode: (v, p) => {
    const parsed = typeof v === "string" ? parseIsoDateTime(v) : undefined;
    if (parsed === undefined) {
      return bad(p, "an ISO-8601 timestamp with a zone such as 2024-01-15T10:30:00Z", v);
    }
    return parsed;
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

/** A codec marked optional: the field may be absent (never `null`); see {@linkcode optional}. */
interface OptionalCodec<T> extends Codec<T | undefined> {
  readonly optional: true;
}

/**
 * An optional field of an {@linkcode object}: omitted from the JSON when `undefined`, and left
 * unset when absent from the JSON (a present field must still decode).
 */
export function optional<T>(inner: Codec<T>): Codec<T | undefined> {
  const codec: OptionalCodec<T> = {
    optional: true,
    encode: (v) => v === undefined ? undefined : inner.encode(v),
    decode: (v, p) => inner.decode(v, p),
  };
  return codec;
}

function isOptional(codec: Codec<unknown>): boolean {
  return (codec as Partial<OptionalCodec<unknown>>).optional === true;
}

/** An object with exactly the declared fields (unknown fields are rejected). */
export function object<T>(fields: { [K in keyof T]-?: Codec<T[K]> }): Codec<T> {
  const keys = Object.keys(fields) as (keyof T & string)[];
  return {
    encode: (v) =>
      Object.fromEntries(
        keys.filter((k) => !(v[k] === undefined && isOptional(fields[k])))
          .map((k) => [k, fields[k].encode(v[k])]),
      ),
    decode: (v, p) => {
      if (!isPlainObject(v)) return bad(p, "an object", v);
      for (const k of Object.keys(v)) {
        if (!(k in fields)) throw new AphexError(`${p ? `${p}.` : ""}${k}: unknown field`);
      }
      const out = {} as T;
      for (const k of keys) {
        if (!(k in v) && isOptional(fields[k])) continue;
        out[k] = fields[k].decode(v[k], p ? `${p}.${k}` : k);
      }
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
