// One way to check a message against its schema, at both ends of every boundary, and one way to
// build a schema from a constant list (shared/constants.ts).
import { Type, type Static, type TLiteral, type TSchema, type TUnion } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { errorMessage } from './errors.js';
import { printable } from './printable.js';

/** A union of the literals of a constant list, typed as the list's members. */
export function literals<T extends readonly string[]>(values: T): TUnion<TLiteral<T[number]>[]> {
  return Type.Union(values.map((value: T[number]) => Type.Literal(value)));
}

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

export interface Validator<T> {
  check(value: unknown): Checked<T>;
}

/**
 * Compiles a schema once, on its first check; `check` reports the first few failures with their
 * JSON paths. Not at import: the protocol has thirty-odd validators and a page's session worker
 * checks a few of them early; compiling them all was ~70 ms of the worker's start, before it
 * could ask for a session.
 */
export function compileValidator<S extends TSchema>(schema: S, what: string): Validator<Static<S>> {
  let compiled: TypeCheck<S> | undefined;
  return {
    check(value: unknown): Checked<Static<S>> {
      compiled ??= TypeCompiler.Compile(schema);
      if (compiled.Check(value)) return { ok: true, value };
      const problems: string[] = [];
      for (const error of compiled.Errors(value)) {
        problems.push(`${error.path || '/'}: ${error.message}`);
        if (problems.length === 3) break;
      }
      // A path names the client's own keys (an unexpected property is named as sent): printable,
      // and short, so a hostile key cannot fill the error it gets back or the log.
      return { ok: false, error: printable(`invalid ${what}: ${problems.join('; ')}`, 1024) };
    },
  };
}

/**
 * A validator for a union tagged by one property (`type`, `query`): it picks the variant by the
 * tag first, so an error names the real problem ("/params/width: expected >= 1") instead of
 * "expected union value".
 */
export function discriminated<T>(what: string, tag: string, variants: Record<string, Validator<T>>): Validator<T> {
  return {
    check(value: unknown): Checked<T> {
      const tagValue = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[tag] : undefined;
      const variant = typeof tagValue === 'string' && Object.hasOwn(variants, tagValue) ? variants[tagValue] : undefined;
      if (!variant) {
        // The tag is the client's value: quoted short (a 60 KiB string is not echoed back) and printable.
        const quoted =
          typeof tagValue === 'string'
            ? `"${printable(tagValue, 64)}"`
            : tagValue === undefined
              ? 'missing'
              : typeof tagValue === 'object' && tagValue !== null
                ? `an ${Array.isArray(tagValue) ? 'array' : 'object'}`
                : String(tagValue);
        return { ok: false, error: `invalid ${what}: /${tag} is ${quoted}, expected one of ${Object.keys(variants).join(', ')}` };
      }
      return variant.check(value);
    },
  };
}

/** Parses a JSON text frame and validates it; never throws. */
export function parseMessage<T>(text: string, validator: Validator<T>): Checked<T> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // V8 quotes the text around a syntax error: printable, so it is not an echo channel.
    return { ok: false, error: printable(`message is not JSON: ${errorMessage(error)}`, 256) };
  }
  return validator.check(value);
}
