// QuantConnect Lean's backtest result JSON (`lean backtest` writes backtests/<date>/<id>.json; the
// cloud's "download results" gives the same packet), recognised by its `totalPerformance` key.
// Each result file is one run (its folder's name, e.g. 2024-02-01_10-00-00).
//
// Read (camelCase as Lean writes it today, PascalCase as older releases did):
//   totalPerformance.closedTrades[]: symbol ({value, id, permtick} or text), entryTime,
//     entryPrice, direction (0 / "Long", 1 / "Short"), quantity, exitTime, exitPrice,
//     profitLoss (before fees), totalFees, mae, mfe
//   statistics["Start Equity"] (else totalPerformance.portfolioStatistics.startEquity, else the
//     first value of charts["Strategy Equity"].series.Equity.values, [unix seconds, open, high,
//     low, close] candles or {x, y} points in older releases): the capital
//   algorithmConfiguration.name and .parameters: the run's name and parameters
// Lean writes times in UTC (with or without a trailing Z): they are read as UTC whatever the
// dataset's `timezone`. A trade's pnl is profitLoss - totalFees (Tickscope's P&L is after costs);
// its ret is that over entryPrice x quantity. MAE and MFE are Lean's (account currency).
// `orders` are read only when a result has no closedTrades: its filled orders are matched into
// round trips FIFO (round-trips.ts), before fees (orders carry none). `runtimeStatistics` are not
// read: they are display strings of what the store recomputes.
import path from 'node:path';
import { errorMessage } from '../../../shared/errors.js';
import { sqlString } from '../../sql/text.js';
import { PrepareError } from '../errors.js';
import { nameWithoutExtension } from '../inputs/index.js';
import type { CandidateFile, Detection, FormatAdapter, FormatDescription, StageContext, StagedTables } from './adapter.js';
import { toolRoundTripsSql } from './round-trips.js';
import { jsonDocumentSql, utcTimeSql } from './json-result.js';

interface LeanResult {
  file: CandidateFile;
  /** The run id: the result's folder (Lean's backtest name), or its file name. */
  runId: string;
}

interface LeanPlan {
  results: LeanResult[];
}

/** The text of field `name` of JSON value `x`, camelCase or PascalCase. */
function field(x: string, name: string): string {
  const pascal = name[0]!.toUpperCase() + name.slice(1);
  return `coalesce(${x}->>${sqlString(name)}, ${x}->>${sqlString(pascal)})`;
}

function jsonField(x: string, name: string): string {
  const pascal = name[0]!.toUpperCase() + name.slice(1);
  return `coalesce(${x}->${sqlString(name)}, ${x}->${sqlString(pascal)})`;
}

/** A display number ("$100,000.00", "100000", "1.5 %") as DOUBLE, NULL when it is none. */
function money(text: string): string {
  return `try_cast(regexp_replace(${text}, '[$,%\\s]', '', 'g') AS DOUBLE)`;
}

function tradesSql(r: LeanResult): string {
  const t = 'tr';
  const sym = jsonField(t, 'symbol');
  const qty = `abs(${field(t, 'quantity')}::DOUBLE)`;
  const direction = `lower(${field(t, 'direction')})`;
  const pnl = `(${field(t, 'profitLoss')}::DOUBLE - abs(coalesce(${field(t, 'totalFees')}::DOUBLE, 0)))`;
  return `SELECT ${sqlString(r.runId)} AS run_id,
      CASE WHEN json_type(${sym}) = 'OBJECT' THEN ${field(sym, 'value')} ELSE ${sym}->>'$' END AS symbol,
      CASE WHEN ${direction} IN ('0', 'long') THEN 'long' WHEN ${direction} IN ('1', 'short') THEN 'short' ELSE ${direction} END AS side,
      ${utcTimeSql(field(t, 'entryTime'))} AS entry_ts,
      ${utcTimeSql(field(t, 'exitTime'))} AS exit_ts,
      ${qty} AS qty,
      ${field(t, 'entryPrice')}::DOUBLE AS entry_price,
      ${field(t, 'exitPrice')}::DOUBLE AS exit_price,
      abs(${field(t, 'totalFees')}::DOUBLE) AS fees,
      ${pnl} AS pnl,
      ${pnl} / nullif(${field(t, 'entryPrice')}::DOUBLE * ${qty}, 0) AS ret,
      ${field(t, 'mae')}::DOUBLE AS mae,
      ${field(t, 'mfe')}::DOUBLE AS mfe
    FROM (SELECT unnest(json_extract(${jsonField(jsonField('doc', 'totalPerformance'), 'closedTrades')}, '$[*]')) AS ${t} FROM ${jsonDocumentSql(r.file)})`;
}

/**
 * Fills from the filled orders (status 3 / "filled"), for a result without closedTrades: signed
 * quantity, the order's fill price, its time; Lean's orders carry no fee, so fees are 0.
 */
function fillsSql(r: LeanResult): string {
  const o = 'ord';
  const sym = jsonField(o, 'symbol');
  const status = `lower(${field(o, 'status')})`;
  return `SELECT ${sqlString(r.runId)} AS run_id,
      CASE WHEN json_type(${sym}) = 'OBJECT' THEN ${field(sym, 'value')} ELSE ${sym}->>'$' END AS symbol,
      ${utcTimeSql(`coalesce(${field(o, 'lastFillTime')}, ${field(o, 'time')})`)} AS ts,
      ${field(o, 'id')}::BIGINT AS seq,
      ${field(o, 'quantity')}::DOUBLE AS amount,
      ${field(o, 'price')}::DOUBLE AS price,
      0.0::DOUBLE AS fees
    FROM (SELECT unnest(json_extract(coalesce(doc->'orders', doc->'Orders'), '$.*')) AS ${o} FROM ${jsonDocumentSql(r.file)})
    WHERE ${status} IN ('3', 'filled')`;
}

/** How many closed trades a result holds (0 when the key is absent). */
async function closedTradeCount(ctx: StageContext, r: LeanResult): Promise<number> {
  const sql = `SELECT coalesce(json_array_length(${jsonField(jsonField('doc', 'totalPerformance'), 'closedTrades')}), 0) FROM ${jsonDocumentSql(r.file)}`;
  return Number((await ctx.con.runAndReadAll(sql)).getRowsJson()[0]?.[0] ?? 0);
}

/** The equity curve (for its first value, the capital of last resort): Lean's candles [time, open, high, low, close] or older {x, y} points. */
function equitySql(r: LeanResult): string {
  const v = 'pt';
  return `SELECT ${sqlString(r.runId)} AS run_id,
      to_timestamp(CASE WHEN json_type(${v}) = 'ARRAY' THEN ${v}->>0 ELSE ${v}->>'x' END::DOUBLE) AS ts,
      CASE WHEN json_type(${v}) = 'ARRAY' THEN ${v}->>4 ELSE ${v}->>'y' END::DOUBLE AS equity
    FROM (SELECT unnest(json_extract(doc, '$.charts."Strategy Equity".series.Equity.values[*]')) AS ${v} FROM ${jsonDocumentSql(r.file)})`;
}

function runsSql(r: LeanResult, equity: string): string {
  const config = jsonField('doc', 'algorithmConfiguration');
  const stats = jsonField('doc', 'statistics');
  const portfolio = jsonField(jsonField('doc', 'totalPerformance'), 'portfolioStatistics');
  return `SELECT ${sqlString(r.runId)} AS run_id,
      ${field(config, 'name')} AS name,
      ${jsonField(config, 'parameters')}::VARCHAR AS params,
      coalesce(${money(`(${stats}->>'Start Equity')`)}, ${money(field(portfolio, 'startEquity'))},
        (SELECT equity FROM ${equity} WHERE run_id = ${sqlString(r.runId)} ORDER BY ts LIMIT 1)) AS capital
    FROM ${jsonDocumentSql(r.file)}`;
}

/** Lean's backtest folder (backtests/<date>/<id>.json) names the run; else the file's name. */
function runIdOf(file: CandidateFile): string {
  const folder = path.basename(path.dirname(file.path));
  return /^\d{4}-\d\d-\d\d/.test(folder) ? folder : nameWithoutExtension(file.path);
}

export const leanAdapter: FormatAdapter<LeanPlan> = {
  id: 'lean',
  label: 'QuantConnect Lean result',

  detect(files) {
    const results = files.filter((f) => f.format === 'json' && f.jsonKeys.some((k) => k.toLowerCase() === 'totalperformance'));
    if (results.length === 0) return null;
    // Lean writes <id>-summary.json beside <id>.json: the same backtest, without the trades.
    const full = new Set(results.map((f) => path.join(path.dirname(f.path), f.stem)));
    const kept = results.filter((f) => !(f.stem.endsWith('-summary') && full.has(path.join(path.dirname(f.path), f.stem.slice(0, -'-summary'.length)))));
    const ids = kept.map(runIdOf);
    const unique = new Set(ids).size === ids.length;
    return {
      files: results,
      confidence: 'certain',
      plan: { results: kept.map((file, i) => ({ file, runId: unique ? ids[i]! : path.relative(path.dirname(path.dirname(kept[0]!.path)), file.path) })) },
    };
  },

  describe(detection: Detection<LeanPlan>): FormatDescription {
    const files = detection.plan.results.map((r) => ({
      path: r.file.path,
      role: `backtest result (run ${r.runId})`,
      columns: {
        symbol: 'totalPerformance.closedTrades[].symbol.value',
        side: 'direction',
        entry_ts: 'entryTime',
        exit_ts: 'exitTime',
        qty: 'quantity',
        entry_price: 'entryPrice',
        exit_price: 'exitPrice',
        fees: 'totalFees',
        pnl: 'profitLoss - totalFees',
        mae: 'mae',
        mfe: 'mfe',
        capital: 'statistics["Start Equity"], else portfolioStatistics.startEquity, else the first charts["Strategy Equity"] value',
      },
    }));
    return {
      summary: `QuantConnect Lean result: ${files.map((f) => f.path).join(', ')}`,
      files,
      missing: [{ table: 'bars', why: 'a Lean result holds closed trades and an equity chart, not per-symbol bars: daily bars are made of the trades (P&L on the day each trade closed; no MAE or MFE from them)' }],
    };
  },

  async stage(detection, ctx: StageContext): Promise<StagedTables> {
    const { results } = detection.plan;
    const trades = ctx.table('trades');
    const equity = ctx.table('equity');
    const runs = ctx.table('runs');
    const fills = ctx.table('fills');
    const sources: string[] = [];
    try {
      // A result without closedTrades (some exports leave them out) gives its filled orders instead.
      const fromOrders: LeanResult[] = [];
      for (const r of results) if ((await closedTradeCount(ctx, r)) === 0) fromOrders.push(r);
      const fromTrades = results.filter((r) => !fromOrders.includes(r));
      const parts = fromTrades.map(tradesSql);
      if (fromTrades.length) sources.push('trades: totalPerformance.closedTrades (pnl = profitLoss - totalFees; ret = pnl / (entryPrice x quantity))');
      if (fromOrders.length) {
        await ctx.con.run(`CREATE TEMP TABLE ${fills} AS ${fromOrders.map(fillsSql).join(' UNION ALL ')}`);
        const roundTrips = toolRoundTripsSql(fills, ctx.multiplier);
        parts.push(`SELECT * FROM (${roundTrips.sql})`);
        sources.push(`trades: round trips matched FIFO from the filled orders of ${fromOrders.map((r) => r.file.path).join(', ')} (no closedTrades; Lean's orders carry no fees, so these P&Ls are before fees${roundTrips.pricing ? `; ${roundTrips.pricing}` : ''})`);
      }
      await ctx.con.run(`CREATE TEMP TABLE ${trades} AS ${parts.join(' UNION ALL BY NAME ')}`);
      await ctx.con.run(`CREATE TEMP TABLE ${equity} AS ${results.map(equitySql).join(' UNION ALL ')}`);
      await ctx.con.run(`CREATE TEMP TABLE ${runs} AS ${results.map((r) => runsSql(r, equity)).join(' UNION ALL ')}`);
    } catch (err) {
      throw new PrepareError(`QuantConnect Lean result ${results.map((r) => r.file.path).join(', ')} cannot be read: ${errorMessage(err)}`, { cause: err });
    }
    sources.push('capital: statistics "Start Equity", else portfolioStatistics.startEquity, else the first value of the Strategy Equity chart');
    return { trades, runs, sources };
  },
};
