// What MetaTrader's lists of positions (metatrader.ts) and of deals (metatrader-deals.ts) share:
// rows told apart by their Type (columns are found by their names: named-columns.ts), and the money moved in
// or out of the account, which is the run's capital (up to the first trade) and not P&L.
//   buy, sell          a position or a deal: a trade, or a fill of one
//   balance, credit    money moved in or out
//   none               the totals line a report ends its list with: left out
//   anything else      a pending order that never filled (buy limit, sell stop, ...) has no
//                      money and is left out; any other type with money is refused, naming it
import { errorMessage } from '../../../shared/errors.js';
import { sqlIdent, sqlString } from '../../sql/text.js';
import type { ColumnInfo } from '../column-types.js';
import { PrepareError } from '../errors.js';
import { exportedNumberSql } from '../expressions.js';
import { stampPath } from '../inputs/index.js';
import { runOfFile, type CandidateFile, type StageContext, type StagedTables } from './adapter.js';
import type { Columns, ListFile } from './named-columns.js';

/** An amount of money; none is 0. */
export function moneyOf(c: ColumnInfo | undefined): string {
  return `coalesce(${exportedNumberSql(c)}, 0)`;
}

/** The row's Type as compared: lower case, trimmed. */
const typeOf = (type: ColumnInfo) => `lower(trim(${sqlIdent(type.name)}::VARCHAR))`;

/** Whether the row is a trade (buy or sell), as SQL: the rows whose numbers must be read. */
export function isTradeSql(type: ColumnInfo): string {
  return `${typeOf(type)} IN ('buy', 'sell')`;
}

/** The row's Type, and what it makes the row: is_trade, is_cash. */
export function kindSql(type: ColumnInfo): string {
  return `${typeOf(type)} AS type, ${isTradeSql(type)} AS is_trade, ${typeOf(type)} IN ('balance', 'credit') AS is_cash`;
}

/**
 * Stages every file's rows (`rowsSql` of its parts, relation and index: type, is_trade, is_cash,
 * symbol, time, profit and the costs named in `money`) with its run, into one table it returns.
 * Refuses a row of another type with money in it, and a trade row without a symbol, naming the
 * file (`label` and its path).
 */
export async function stageLists(
  ctx: StageContext,
  files: readonly ListFile[],
  rowsSql: (p: Columns, relation: string, index: number) => string,
  label: string,
  money: readonly string[],
): Promise<string> {
  const parts: string[] = [];
  for (const [i, { file, parts: p }] of files.entries()) {
    const target = ctx.table(`rows_${i}`);
    await stageRows(ctx, file, rowsSql(p, await ctx.read(file), i), target, `${label} ${stampPath(file)}`, p, money);
    parts.push(`SELECT * FROM ${target}`);
  }
  const all = ctx.table('rows');
  await ctx.con.run(`CREATE TEMP TABLE ${all} AS ${parts.join(' UNION ALL ')}`);
  return all;
}

async function stageRows(ctx: StageContext, file: CandidateFile, rowsSql: string, target: string, what: string, p: Columns, money: readonly string[]): Promise<void> {
  try {
    await ctx.con.run(`CREATE TEMP TABLE ${target} AS SELECT ${sqlString(runOfFile(file))} AS run_id, * FROM (${rowsSql})`);
  } catch (err) {
    throw new PrepareError(`${what} cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  const [bad] = (await ctx.con.runAndReadAll(
    `SELECT count(*)::DOUBLE, any_value(type), any_value(profit) FROM ${target}
      WHERE NOT is_trade AND NOT is_cash AND coalesce(type, '') <> '' AND (${money.map((m) => `${m} <> 0`).join(' OR ')})`,
  )).getRowsJson();
  if (Number(bad?.[0] ?? 0) > 0) {
    throw new PrepareError(
      `${what}: ${Number(bad![0])} row(s) with money but a ${p['type']!.name} that is neither buy, sell, balance nor credit (one: '${String(bad![1])}' with ${p['profit']!.name} ${String(bad![2])}); only trades and money moved in or out can be read`,
    );
  }
  const [noSymbol] = (await ctx.con.runAndReadAll(`SELECT count(*)::DOUBLE FROM ${target} WHERE is_trade AND coalesce(symbol, '') = ''`)).getRowsJson();
  if (Number(noSymbol?.[0] ?? 0) > 0) throw new PrepareError(`${what}: ${Number(noSymbol![0])} buy or sell row(s) without a ${p['symbol']!.name}`);
}

/**
 * The runs of `rows` (every file's rows, with run_id, time, is_trade, is_cash, profit) when money
 * moved in before the first trade states a capital, and what was said of the money moved. A list
 * without a deposit leaves the runs to a runs file of the user's own.
 */
export async function stageCapital(ctx: StageContext, rows: string): Promise<Pick<StagedTables, 'runs' | 'sources'>> {
  const moves = ctx.table('money_moved');
  await ctx.con.run(`CREATE TEMP TABLE ${moves} AS
    SELECT run_id, sum(profit) FILTER (WHERE is_cash AND time <= first_trade) AS capital,
      count(*) FILTER (WHERE is_cash AND time > first_trade) AS later
    FROM (SELECT *, min(time) FILTER (WHERE is_trade) OVER (PARTITION BY run_id) AS first_trade FROM ${rows})
    GROUP BY run_id`);
  const [counts] = (await ctx.con.runAndReadAll(`SELECT count(capital)::DOUBLE, sum(later)::DOUBLE FROM ${moves}`)).getRowsJson();
  const sources: string[] = [];
  const later = Number(counts?.[1] ?? 0);
  if (later > 0) sources.push(`${later} balance or credit row(s) after the first trade: deposits and withdrawals, not P&L, left out`);
  if (Number(counts?.[0] ?? 0) === 0) return { sources };
  const runs = ctx.table('runs');
  await ctx.con.run(`CREATE TEMP TABLE ${runs} AS SELECT run_id, run_id AS name, NULL::VARCHAR AS params, capital FROM ${moves}`);
  sources.push('capital: the balance and credit rows up to the first trade');
  return { runs, sources };
}
