// One way to check a message against its schema, at both ends of every boundary, and one way to
// build a schema from a constant list (shared/constants.ts).
import { Type, type Static, type TLiteral, type TSchema, type TUnion } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { errorMessage } from './errors.js';

/** A union of the literals of a constant list, typed as the list's members. */
export function literals<T extends readonly string[]>(values: T): TUnion<TLiteral<T[number]>[]> {
  return Type.Union(values.map((value: T[number]) => Type.Literal(value)));
}

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

export interface Validator<T> {
  check(value: unknown): Checked<T>;
}

/** Compiles a schema once; `check` reports the first few failures with their JSON paths. */
export function compileValidator<S extends TSchema>(schema: S, what: string): Validator<Static<S>> {
  const compiled: TypeCheck<S> = TypeCompiler.Compile(schema);
  return {
    check(value: unknown): Checked<Static<S>> {
      if (compiled.Check(value)) return { ok: true, value };
      const problems: string[] = [];
      for (const error of compiled.Errors(value)) {
        problems.push(`${error.path || '/'}: ${error.message}`);
        if (problems.length === 3) break;
      }
      return { ok: false, error: `invalid ${what}: ${problems.join('; ')}` };
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
        return {
          ok: false,
          error: `invalid ${what}: /${tag} is ${JSON.stringify(tagValue) ?? 'missing'}, expected one of ${Object.keys(variants).join(', ')}`,
        };
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
    return { ok: false, error: `message is not JSON: ${errorMessage(error)}` };
  }
  return validator.check(value);
}
