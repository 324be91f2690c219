// What apache-arrow hands back for a damaged schema, caught before anything uses it. Its reader
// does not validate a schema message: a field whose name is missing comes back with a null name,
// a fixed-size binary with a negative width, and code that trusts the types fails far away
// ("Cannot read properties of null (reading 'toLowerCase')" from the column matching), and a name
// of bytes that are not UTF-8 decodes to U+FFFD replacement characters. Fuzzed files of
// apache/arrow-testing have all three. A schema that fails here is refused with the first
// problem found; the caller names the file.
import { DataType, type Field, type Schema } from 'apache-arrow';
import { printable } from '../../../shared/printable.js';

/** Nesting deeper than this is not a backtest's schema (and a loop in a damaged one must end). */
const MAX_DEPTH = 32;

/** The first problem of `schema` (e.g. "field 1 of 5 has no name"), or null when it is usable. */
export function schemaProblem(schema: Schema | null | undefined): string | null {
  if (!schema || !Array.isArray(schema.fields)) return 'it has no schema';
  const fields = schema.fields;
  const seen = new Set<string>();
  for (const [i, field] of fields.entries()) {
    const where = `field ${i + 1} of ${fields.length}`;
    const problem = fieldProblem(field, where, 0);
    if (problem) return problem;
    // Columns are found by name: with two of one name, which one holds the P&L is a guess.
    if (seen.has(field.name)) return `${where}: the column name '${printable(field.name, 120)}' appears twice`;
    seen.add(field.name);
  }
  return null;
}

function fieldProblem(field: Field | null | undefined, where: string, depth: number): string | null {
  if (!field) return `${where} is missing`;
  if (typeof field.name !== 'string') return `${where} has no name`;
  // Names are UTF-8 by the format; apache-arrow decodes bad bytes to U+FFFD instead of failing.
  if (field.name.includes('\ufffd')) return `${where}: its name '${printable(field.name, 120)}' is not valid UTF-8`;
  return typeProblem(field.type, `${where} ('${printable(field.name, 120)}')`, depth);
}

function typeProblem(type: DataType | null | undefined, where: string, depth: number): string | null {
  if (depth > MAX_DEPTH) return `${where} is nested more than ${MAX_DEPTH} levels deep`;
  if (!type || typeof type.typeId !== 'number') return `${where} has no type`;
  if (DataType.isFixedSizeBinary(type)) {
    const width = (type as unknown as { byteWidth: unknown }).byteWidth;
    if (!Number.isSafeInteger(width) || (width as number) < 0) return `${where} is a fixed-size binary of width ${String(width)}`;
  }
  if (DataType.isFixedSizeList(type)) {
    const size = (type as unknown as { listSize: unknown }).listSize;
    if (!Number.isSafeInteger(size) || (size as number) < 0) return `${where} is a fixed-size list of size ${String(size)}`;
  }
  if (DataType.isDictionary(type)) {
    const dictionary = (type as unknown as { dictionary: DataType | null }).dictionary;
    const problem = typeProblem(dictionary, `${where}, its dictionary`, depth + 1);
    if (problem) return problem;
  }
  const children = (type as unknown as { children?: (Field | null)[] | null }).children;
  if (Array.isArray(children)) {
    for (const [i, child] of children.entries()) {
      const problem = fieldProblem(child, `${where}, child ${i + 1}`, depth + 1);
      if (problem) return problem;
    }
  }
  return null;
}
