// The dataset description: what a dataset's files do not say about themselves, written once
// beside the data as `tickscope.json` and read by every command (prepare, serve, inspect).
//
//   {
//     "bars":   { "ts": "Date", "symbol": "Ticker", "position_qty": "Shares", "pnl": "PnL" },
//     "trades": { "entry_ts": "Opened", "exit_ts": "Closed" },
//     "symbols": { "sector": "GICS Sector" },
//     "runs":   { "run_id": "Backtest" },
//     "timezone": "America/New_York",
//     "capital": 1000000,                 (or per run: { "momentum": 1000000, "value": 250000 })
//     "onBadRows": "drop",                ("fail", the default, or "drop")
//     "riskFreeRate": 0.02,               (annual; absent means 0)
//     "benchmark": "SPY"                  (a symbol of the dataset, or a file path)
//   }
//
// Where it is: in the folder for a folder input; in the common folder of the inputs for files and
// globs. `--mapping FILE` names another file instead (that file is the whole description), and
// `--on-bad-rows` overrides its `onBadRows`. Every key is optional; an unknown key is refused by
// name, so a typo cannot silently do nothing.

import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Type, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { errorMessage } from '../../shared/errors.js';
import { PrepareError } from './errors.js';
import { hasGlob, TABLE_KINDS, type TableKind } from './inputs/index.js';
import { COLUMNS, type ColumnMapping } from './mapping.js';

/** The file name of the dataset description beside the data. */
export const DESCRIPTION_FILE = 'tickscope.json';

export const BAD_ROW_POLICIES = ['fail', 'drop'] as const;
export type BadRowPolicy = (typeof BAD_ROW_POLICIES)[number];

export interface DatasetDescription extends ColumnMapping {
  /** IANA zone of naive (zone-less) timestamps, and the exchange's display zone; default UTC. */
  timezone?: string;
  /** The capital base: one number for every run, or one per run id. */
  capital?: number | Record<string, number>;
  /** What to do with rows that cannot be kept (NaN, null keys, duplicates): default 'fail'. */
  onBadRows?: BadRowPolicy;
  /** Annual risk-free rate as a fraction (0.02 = 2%); absent means 0. */
  riskFreeRate?: number;
  /** A symbol of the dataset, or the path of a file of benchmark prices or returns. */
  benchmark?: string;
  /** Month or day first in text dates such as 01/02/2024, when the data cannot tell (text-dates.ts). */
  dateOrder?: DateOrder;
  /** The instrument of a backtest of one whose files have no symbol column (table-input.ts singleInstrument). */
  symbol?: string;
}

/** Month/day/year (US) or day/month/year. */
export type DateOrder = 'mdy' | 'dmy';

/** The description a preparation uses, and the file it came from (or would, when there is none). */
export interface LocatedDescription {
  description: DatasetDescription;
  /** The file read, or where a `tickscope.json` would be read from when none exists. */
  path: string;
  /** Whether `path` exists (a description was read from it). */
  found: boolean;
}

const columnsOf = (kind: TableKind) =>
  Type.Optional(
    Type.Object(
      Object.fromEntries(Object.keys(COLUMNS[kind]).map((c) => [c, Type.Optional(Type.String({ minLength: 1 }))])) as Record<string, TSchema>,
      { additionalProperties: false },
    ),
  );

const DescriptionSchema = Type.Object(
  {
    ...(Object.fromEntries(TABLE_KINDS.map((kind) => [kind, columnsOf(kind)])) as Record<string, TSchema>),
    timezone: Type.Optional(Type.String({ minLength: 1 })),
    capital: Type.Optional(Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Record(Type.String({ minLength: 1 }), Type.Number({ exclusiveMinimum: 0 }))])),
    onBadRows: Type.Optional(Type.Union(BAD_ROW_POLICIES.map((p) => Type.Literal(p)))),
    riskFreeRate: Type.Optional(Type.Number({ minimum: -1, maximum: 1 })),
    benchmark: Type.Optional(Type.String({ minLength: 1 })),
    dateOrder: Type.Optional(Type.Union([Type.Literal('mdy'), Type.Literal('dmy')])),
    symbol: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
const checkDescriptionSchema = TypeCompiler.Compile(DescriptionSchema);

const TOP_KEYS = Object.keys(DescriptionSchema.properties);

/** Each key of the description in a line, for the commands' --help (server/cli/input-help.ts). */
export const DESCRIPTION_KEY_HELP: Readonly<Record<string, string>> = {
  'bars|trades|symbols|runs': 'canonical column -> your column name, e.g. "bars": { "ts": "Date" }',
  timezone: 'IANA zone of naive timestamps and of the times shown, e.g. "America/New_York"',
  capital: 'capital base: a number, or { "<run_id>": number } per run',
  onBadRows: '"fail" (default: list every bad row) or "drop" (leave them out, reported)',
  riskFreeRate: 'annual, as a fraction (0.02 = 2%); default 0',
  benchmark: 'a symbol of the dataset, or a file of returns or prices (default: equal-weighted market)',
  dateOrder: '"mdy" or "dmy": month or day first in text dates such as 01/02/2024, when no value above 12 tells (default "dmy" with dots, else "mdy")',
  symbol: "the instrument of a backtest of one whose files have no symbol column (default: the dataset folder's name)",
};

/** What each key must hold, for messages (TypeBox's own say "Expected union value"). */
const EXPECTED: Record<string, string> = {
  timezone: 'a time zone name such as "America/New_York"',
  capital: 'a positive number, or an object of run id -> positive number',
  onBadRows: '"fail" or "drop"',
  riskFreeRate: 'an annual rate as a fraction between -1 and 1, e.g. 0.02',
  benchmark: 'a symbol of the dataset or a file path (a non-empty string)',
  dateOrder: '"mdy" (month/day/year) or "dmy" (day/month/year)',
  symbol: 'a symbol name (a non-empty string)',
};

/** Checks a description object; `where` names it in errors (e.g. "dataset description /x/tickscope.json"). */
export function checkDescription(raw: unknown, where: string): DatasetDescription {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new PrepareError(`${where}: expected a JSON object with keys ${TOP_KEYS.join(', ')}`);
  }
  if (checkDescriptionSchema.Check(raw)) return raw as DatasetDescription;
  const problems: string[] = [];
  for (const error of checkDescriptionSchema.Errors(raw)) {
    const [key, column] = error.path.split('/').slice(1);
    let problem: string;
    if (key === undefined) problem = error.message;
    else if (!TOP_KEYS.includes(key)) problem = `unknown key '${key}' (expected ${TOP_KEYS.join(', ')})`;
    else if (key in EXPECTED) problem = `'${key}' must be ${EXPECTED[key]}`;
    else if (column === undefined) problem = `'${key}' must be an object of canonical column -> input column`;
    else if (!(column in COLUMNS[key as TableKind])) {
      problem = `'${key}.${column}' is not a column of ${key} (known: ${Object.keys(COLUMNS[key as TableKind]).join(', ')})`;
    } else problem = `'${key}.${column}' must be a column name (a non-empty string)`;
    if (!problems.includes(problem)) problems.push(problem);
  }
  throw new PrepareError(`${where}: ${problems.join('; ')}`);
}

/** Reads and checks a description file; `what` names the kind of file in errors. */
export async function readDescriptionFile(file: string, what = 'dataset description'): Promise<DatasetDescription> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    throw new PrepareError(`${what} ${abs} cannot be read: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PrepareError(`${what} ${abs} is not valid JSON: ${errorMessage(err)}`, { cause: err });
  }
  return checkDescription(raw, `${what} ${abs}`);
}

/** The folder a dataset's `tickscope.json` sits in: the input folder, or the inputs' common folder. */
export async function descriptionFolder(inputs: readonly string[]): Promise<string> {
  const folders: string[] = [];
  for (const input of inputs) {
    const abs = path.resolve(input);
    if (hasGlob(input)) {
      const parts = abs.split(path.sep);
      folders.push(parts.slice(0, parts.findIndex((p) => hasGlob(p))).join(path.sep) || path.sep);
    } else {
      // A path that does not exist fails later, naming itself; its folder is as good a guess as any.
      const isFolder = await stat(abs).then((st) => st.isDirectory(), () => false);
      folders.push(isFolder ? abs : path.dirname(abs));
    }
  }
  let common = folders[0] ?? process.cwd();
  for (const f of folders) {
    while (common !== path.dirname(common) && f !== common && !f.startsWith(`${common}${path.sep}`)) common = path.dirname(common);
  }
  return common;
}

export interface DescriptionSources {
  inputs: readonly string[];
  /** `--mapping FILE`: read instead of the `tickscope.json` beside the data. */
  mappingFile?: string;
  /** A description given in code (tests, the benchmark); wins over the file beside the data. */
  description?: DatasetDescription;
  /** `--on-bad-rows`: wins over the description's `onBadRows`. */
  onBadRows?: BadRowPolicy;
}

/**
 * The dataset's description, from (first that applies) `--mapping FILE`, a description given in
 * code, or `tickscope.json` beside the data; none is an empty description.
 */
export async function locateDescription(s: DescriptionSources): Promise<LocatedDescription> {
  const beside = path.join(await descriptionFolder(s.inputs), DESCRIPTION_FILE);
  let located: LocatedDescription;
  if (s.mappingFile) {
    const file = path.resolve(s.mappingFile);
    located = { description: await readDescriptionFile(file, 'mapping file'), path: file, found: true };
  } else if (s.description) {
    located = { description: checkDescription(s.description, 'dataset description (option)'), path: beside, found: false };
  } else {
    const exists = await readFile(beside, 'utf8').then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return false;
        throw new PrepareError(`dataset description ${beside} cannot be read: ${err.code ?? errorMessage(err)}`, { cause: err });
      },
    );
    located = exists ? { description: await readDescriptionFile(beside), path: beside, found: true } : { description: {}, path: beside, found: false };
  }
  if (s.onBadRows) located.description = { ...located.description, onBadRows: s.onBadRows };
  return located;
}

/** The description as canonical JSON (keys sorted at every level): its identity in a fingerprint. */
export function canonicalDescription(d: DatasetDescription): string {
  const sort = (v: unknown): unknown =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]))
      : v;
  return JSON.stringify(sort(d));
}

export function isBadRowPolicy(v: unknown): v is BadRowPolicy {
  return typeof v === 'string' && (BAD_ROW_POLICIES as readonly string[]).includes(v);
}
