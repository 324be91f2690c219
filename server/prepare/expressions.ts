// The canonical columns of each table as SQL expressions over its input columns: casts, UTC
// timestamps from whatever the input holds (naive, zoned, epoch integers, ISO text), defaults for
// optional columns. Input column names are quoted identifiers, never trusted text.
import { sqlIdent, sqlString } from '../sql/text.js';
import { familyOf, type ColumnInfo } from './column-types.js';
import { textDateSql } from './text-dates.js';
import type { TableInput } from './table-input-shape.js';

/** The run id of a dataset whose bars and trades have no run column. */
export const DEFAULT_RUN_ID = 'default';

export interface ExprContext {
  /** How each timestamp column was read, for the store's timezone note. */
  notes: Map<string, string>;
  /** The zone of naive timestamps (the mapping's `timezone`); null for UTC. */
  timezone: string | null;
  /** The symbols' contract multipliers other than 1, once staged (multipliers.ts); absent when none. */
  multipliers?: string;
}

/** canonical column -> SQL expression. */
export type Exprs = Record<string, string>;

function naiveToUtc(x: string, ctx: ExprContext): string {
  return ctx.timezone ? `timezone('UTC', timezone(${sqlString(ctx.timezone)}, ${x}))` : x;
}

/** An integer epoch as a UTC TIMESTAMP, its unit (s, ms, us or ns) from its magnitude. */
export function epochSql(x: string): string {
  return `CASE WHEN abs(${x}) >= 100000000000000000 THEN make_timestamp(${x} // 1000)
        WHEN abs(${x}) >= 100000000000000 THEN make_timestamp(${x})
        WHEN abs(${x}) >= 100000000000 THEN make_timestamp(${x} * 1000)
        ELSE make_timestamp(${x} * 1000000) END`;
}

/** SQL turning a column into a UTC TIMESTAMP; records how, per column, in ctx.notes. */
function tsExpr(c: ColumnInfo, ctx: ExprContext): string {
  const col = sqlIdent(c.name);
  const fam = familyOf(c);
  const naiveZone = ctx.timezone ?? 'UTC';
  const naiveNote = ctx.timezone ? `naive timestamps taken as ${ctx.timezone} and converted to UTC` : 'naive timestamps taken as UTC';
  switch (fam) {
    case 'null':
      ctx.notes.set(c.name, 'all null');
      return 'NULL::TIMESTAMP';
    case 'timestamptz':
      if (c.zone) {
        ctx.notes.set(c.name, `zoned timestamps (Arrow time zone ${c.zone}) read as UTC instants`);
        return `${col}::TIMESTAMP`;
      }
      ctx.notes.set(c.name, 'zoned timestamps converted to UTC');
      return `timezone('UTC', ${col})`;
    case 'timestamp':
    case 'date':
      ctx.notes.set(c.name, naiveNote);
      return naiveToUtc(`${col}::TIMESTAMP`, ctx);
    case 'integer': {
      ctx.notes.set(c.name, 'integer epoch (unit from magnitude: s, ms, us or ns) taken as UTC');
      return epochSql(`${col}::BIGINT`);
    }
    default: {
      if (c.textDate) {
        ctx.notes.set(c.name, `text timestamps read as ${c.textDate.says}, taken as ${naiveZone}`);
        // Text that fits none of the formats reads as NULL here; checks.ts (checkTimestampText) reports it.
        return naiveToUtc(textDateSql(`trim(${col}::VARCHAR)`, c.textDate), ctx);
      }
      ctx.notes.set(c.name, `text timestamps: with an offset converted to UTC, without one taken as ${naiveZone}`);
      const s = `${col}::VARCHAR`;
      // Text that is not a timestamp reads as NULL here; checks.ts (checkTimestampText) reports it.
      return `CASE WHEN regexp_matches(${s}, '(Z|[+-]\\d\\d(:?\\d\\d)?)$') THEN timezone('UTC', TRY_CAST(${s} AS TIMESTAMPTZ))
        ELSE ${naiveToUtc(`TRY_CAST(${s} AS TIMESTAMP)`, ctx)} END`;
    }
  }
}

/** A column as text; NULL when absent or all null; a constant column's value. */
function stringExpr(c: ColumnInfo | undefined): string {
  if (c?.constant !== undefined) return sqlString(c.constant);
  return !c || familyOf(c) === 'null' ? 'NULL::VARCHAR' : `${sqlIdent(c.name)}::VARCHAR`;
}

/** A column as a DOUBLE; NULL when absent or all null. Text (CSV, JSON) as spreadsheetNumberSql reads it. */
export function numberExpr(c: ColumnInfo | undefined): string {
  if (!c || familyOf(c) === 'null') return 'NULL::DOUBLE';
  return familyOf(c) === 'string' ? spreadsheetNumberSql(`${sqlIdent(c.name)}::VARCHAR`, c.name, c.decimalComma) : `${sqlIdent(c.name)}::DOUBLE`;
}

/** A money amount written as text: a currency sign or code in it ($87.50, 87.50 USD). */
const MONEY_TEXT = '[$€£¥]|USD|EUR|GBP|JPY';

/**
 * A number written as text the way spreadsheets and in-house reports write money, as a DOUBLE:
 * a currency sign or code ($ € £ ¥, USD EUR GBP JPY) and spaces anywhere, thousands separated by
 * commas (1,234,567.89: only in groups of three, so a decimal comma is not misread as one),
 * accounting negatives in parentheses, the minus sign U+2212, and a trailing % (a percentage:
 * 1.5% is 0.015). With `decimalComma` (a file from a European locale: candidates.ts), the comma
 * is the decimal mark and dots separate thousands (1.225,00). Blank text is NULL. Anything else
 * fails the build with an error that names the column (`column`, the input's name) and the value;
 * a decimal comma in a file of decimal points among them (1.234,56): which of the two a separator
 * is cannot be known from one value.
 */
export function spreadsheetNumberSql(text: string, column: string, decimalComma = false): string {
  const trimmed = `replace(trim(${text}), '\u2212', '-')`;
  const signed = `regexp_replace(${trimmed}, '^\\((.*)\\)$', '-\\1')`;
  const bare = `regexp_replace(${signed}, '\\s|${MONEY_TEXT}', '', 'g')`;
  const digits = `rtrim(${bare}, '%')`;
  const [group, mark] = decimalComma ? ['.', ','] : [',', '.'];
  const groups = `'^[+-]?\\d{1,3}(\\${group}\\d{3})+(\\${mark}\\d*)?$'`;
  const ungrouped = `CASE WHEN regexp_matches(${digits}, ${groups}) THEN replace(${digits}, '${group}', '') ELSE ${digits} END`;
  const plain = decimalComma ? `replace(${ungrouped}, ',', '.')` : ungrouped;
  const parsed = `TRY_CAST(${plain} AS DOUBLE)`;
  const refusal = `error(${sqlString(`column '${column}': '`)} || ${text} || ${sqlString("' is not a number (a decimal comma or a stray character?)")})`;
  return `CASE WHEN ${text} IS NULL OR trim(${text}) = '' THEN NULL::DOUBLE
    WHEN ${parsed} IS NULL THEN ${refusal}::DOUBLE
    WHEN ends_with(${bare}, '%') THEN ${parsed} / 100 ELSE ${parsed} END`;
}

/**
 * A number column of a tool's export as DOUBLE. Text (a placeholder such as "—" where a row has no
 * value, money as text) is read as spreadsheets write it (spreadsheetNumberSql) on the rows `when`
 * selects: only those must hold a number.
 */
export function exportedNumberSql(c: ColumnInfo | undefined, when = 'true'): string {
  if (!c) return 'NULL::DOUBLE';
  const v = sqlIdent(c.name);
  if (familyOf(c) !== 'string') return `${v}::DOUBLE`;
  return `CASE WHEN ${when} AND NOT regexp_matches(trim(${v}), '^[—–-]?$') THEN ${spreadsheetNumberSql(`${v}::VARCHAR`, c.name, c.decimalComma)} END`;
}

/** How the store's timestamps were normalised to UTC, per column (the meta table's timezone note). */
export function timezoneNote(ctx: ExprContext): string {
  if (ctx.notes.size === 0) return 'naive timestamps taken as UTC';
  return [...ctx.notes].map(([col, how]) => `${col}: ${how}`).join('; ');
}

/** `expr AS name, ...` of every expression. */
export function selectList(exprs: Exprs): string {
  return Object.entries(exprs).map(([name, expr]) => `${expr} AS ${name}`).join(', ');
}

/** The canonical columns of a table (server/store/format.ts) over its input relation. */
export function tableExprs(t: TableInput, ctx: ExprContext): Exprs {
  switch (t.source.kind) {
    case 'bars':
      return barsExprs(t, ctx);
    case 'trades':
      return tradesExprs(t, ctx);
    case 'symbols':
      return symbolsExprs(t);
    case 'runs':
      return runsExprs(t);
  }
}

function barsExprs(t: TableInput, ctx: ExprContext): Exprs {
  const c = (k: string) => t.resolved.get(k);
  const qty = numberExpr(c('position_qty')!);
  const price = numberExpr(c('price')!);
  return {
    run_id: c('run_id') ? stringExpr(c('run_id')!) : sqlString(DEFAULT_RUN_ID),
    ts: tsExpr(c('ts')!, ctx),
    symbol: stringExpr(c('symbol')!),
    price,
    position_qty: qty,
    position_value: c('position_value') ? numberExpr(c('position_value')!) : `(${qty} * ${price})`,
    trade_qty: numberExpr(c('trade_qty')),
    fees: c('fees') ? `coalesce(${numberExpr(c('fees')!)}, 0)` : '0.0::DOUBLE',
    pnl: numberExpr(c('pnl')!),
  };
}

/** The words a trade's side is written in, and the side each says. */
export const SIDE_OF_WORD: Readonly<Record<string, 'long' | 'short'>> = { long: 'long', short: 'short', buy: 'long', sell: 'short', b: 'long', s: 'short', l: 'long', '1': 'long', '-1': 'short' };

function tradesExprs(t: TableInput, ctx: ExprContext): Exprs {
  const c = (k: string) => t.resolved.get(k);
  const qty = numberExpr(c('qty'));
  const sideCol = c('side');
  const side = sideCol
    ? `CASE lower(trim(${stringExpr(sideCol)})) ${Object.entries(SIDE_OF_WORD).map(([w, side]) => `WHEN ${sqlString(w)} THEN '${side}'`).join(' ')} ELSE lower(trim(${stringExpr(sideCol)})) END`
    : `CASE WHEN ${qty} < 0 THEN 'short' ELSE 'long' END`;
  return {
    run_id: c('run_id') ? stringExpr(c('run_id')!) : sqlString(DEFAULT_RUN_ID),
    trade_id: c('trade_id') ? `${sqlIdent(c('trade_id')!.name)}::BIGINT` : 'NULL::BIGINT',
    symbol: stringExpr(c('symbol')!),
    side,
    entry_ts: tsExpr(c('entry_ts')!, ctx),
    exit_ts: c('exit_ts') ? tsExpr(c('exit_ts')!, ctx) : 'NULL::TIMESTAMP',
    qty: `abs(${qty})`,
    entry_price: numberExpr(c('entry_price')),
    exit_price: numberExpr(c('exit_price')),
    fees: numberExpr(c('fees')),
    pnl: numberExpr(c('pnl')),
    ret: numberExpr(c('ret')),
    bars_held: c('bars_held') ? `${numberExpr(c('bars_held')!)}::BIGINT` : 'NULL::BIGINT',
    mae: excursionExpr(c('mae'), '-', c('entry_price'), qty, multiplierSql(ctx, stringExpr(c('symbol')!))),
    mfe: excursionExpr(c('mfe'), '+', c('entry_price'), qty, multiplierSql(ctx, stringExpr(c('symbol')!))),
    tag: stringExpr(c('tag')),
  };
}

/**
 * MAE or MFE as the store keeps it, a fraction of the entry price. Platforms' trade lists
 * (NinjaTrader, TradeStation) write them as money ($87.50): such a value is read over the
 * trade's entry value (entry price x quantity x the contract's multiplier, multipliers.ts; 1
 * unless the symbols give one), MAE at or below 0 and MFE at or above it whatever sign the list
 * gave. A value without a currency is a fraction already (or a percentage, 1.5% = 0.015).
 */
function excursionExpr(c: ColumnInfo | undefined, sign: '-' | '+', entryPrice: ColumnInfo | undefined, qty: string, multiplier: string): string {
  const value = numberExpr(c);
  if (!c || familyOf(c) !== 'string') return value;
  const money = `regexp_matches(${sqlIdent(c.name)}::VARCHAR, '${MONEY_TEXT}')`;
  const entryValue = multiplier === '1' ? `${numberExpr(entryPrice)} * ${qty}` : `${numberExpr(entryPrice)} * ${qty} * ${multiplier}`;
  return `CASE WHEN ${money} THEN ${sign}abs(${value}) / nullif(abs(${entryValue}), 0) ELSE ${value} END`;
}

/** The contract multiplier of the symbol `symbol` (an SQL expression) names; '1' when no symbol has one (multipliers.ts). */
export function multiplierSql(ctx: Pick<ExprContext, 'multipliers'>, symbol: string): string {
  return ctx.multipliers ? `coalesce((SELECT m.contract_multiplier FROM ${ctx.multipliers} m WHERE m.contract_symbol = ${symbol}), 1)` : '1';
}

function symbolsExprs(t: TableInput): Exprs {
  const c = (k: string) => t.resolved.get(k);
  return { symbol: stringExpr(c('symbol')!), sector: stringExpr(c('sector')), industry: stringExpr(c('industry')), multiplier: numberExpr(c('multiplier')) };
}

function runsExprs(t: TableInput): Exprs {
  const c = (k: string) => t.resolved.get(k);
  const p = c('params');
  // Parameters are kept as JSON text, whatever type the input gave them.
  const params = !p ? 'NULL::VARCHAR' : familyOf(p) === 'string' ? sqlIdent(p.name) : `to_json(${sqlIdent(p.name)})::VARCHAR`;
  return { run_id: stringExpr(c('run_id')!), name: stringExpr(c('name')), params, capital: numberExpr(c('capital')) };
}
