// Input columns as DuckDB sees them, and their type families: which types a canonical column
// accepts (mapping.ts says what each one must hold), and which may be mixed across the files of
// one table.
import type { ColumnKind } from './mapping.js';

/** A column as DuckDB will see it. `zone` is set for zoned timestamps (values are UTC instants). */
export interface ColumnInfo {
  name: string;
  /** DuckDB type name, e.g. DOUBLE, VARCHAR, TIMESTAMP_MS; 'NULL' for an Arrow Null column. */
  type: string;
  zone?: string | null;
  /** Set when the column cannot be staged, with the reason (e.g. an Arrow type we do not read). */
  unsupported?: string;
  /**
   * Set for text timestamps in a form DuckDB's cast does not read (text-dates.ts): the strptime
   * formats that read them, and what to say of the reading.
   */
  textDate?: { formats: string[]; says: string };
  /** Text of a file whose numbers have decimal commas (1.225,00): how spreadsheetNumberSql reads it. */
  decimalComma?: boolean;
  /** Not in the files: this value on every row (the symbol of a backtest of one instrument: table-input.ts). */
  constant?: string;
}

export type Family = 'integer' | 'float' | 'string' | 'blob' | 'bool' | 'timestamp' | 'timestamptz' | 'date' | 'null' | 'other';

export function familyOf(c: ColumnInfo): Family {
  const t = c.type.toUpperCase();
  if (t === 'NULL') return 'null';
  if (/^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|INT[1248]|U?HUGEINT)$/.test(t)) return 'integer';
  if (t === 'FLOAT' || t === 'DOUBLE' || t === 'REAL' || t.startsWith('DECIMAL')) return 'float';
  if (t === 'VARCHAR' || t.startsWith('ENUM')) return 'string';
  if (t === 'BLOB') return 'blob';
  if (t === 'BOOLEAN') return 'bool';
  if (t === 'TIMESTAMP WITH TIME ZONE' || t === 'TIMESTAMPTZ') return 'timestamptz';
  if (t.startsWith('TIMESTAMP')) return c.zone ? 'timestamptz' : 'timestamp';
  if (t === 'DATE') return 'date';
  return 'other';
}

/** Families that may be mixed across files of one table (numbers of different widths). */
export function compatible(a: Family, b: Family): boolean {
  if (a === b || a === 'null' || b === 'null') return true;
  const num = (f: Family) => f === 'integer' || f === 'float';
  return num(a) && num(b);
}

/** The families each kind of canonical column is read from, and how an error names them. */
const ACCEPTED: Record<Exclude<ColumnKind, 'any'>, { families: readonly Family[]; expected: string }> = {
  'key-string': { families: ['string', 'integer', 'blob', 'null'], expected: 'strings or integers' },
  string: { families: ['string', 'integer', 'blob', 'null', 'bool', 'float'], expected: 'text' },
  timestamp: { families: ['timestamp', 'timestamptz', 'date', 'integer', 'string', 'null'], expected: 'a timestamp (or a date, an epoch integer, or ISO text)' },
  number: { families: ['integer', 'float', 'null'], expected: 'a number' },
  integer: { families: ['integer', 'null'], expected: 'an integer' },
};

/** What a canonical column of `kind` must have instead of `c`'s type; null when `c` will do. */
export function expectedInstead(kind: ColumnKind, c: ColumnInfo): string | null {
  if (c.unsupported) return 'a type preparation reads';
  if (kind === 'any') return null;
  const accepted = ACCEPTED[kind];
  return accepted.families.includes(familyOf(c)) ? null : accepted.expected;
}
