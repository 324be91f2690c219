// Freqtrade's backtest result (`freqtrade backtesting --export trades` writes
// user_data/backtest_results/backtest-result-<date>.json, or, in newer releases, the same JSON
// inside backtest-result-<date>.zip, unpacked by archives/members.ts; with <same>.meta.json and
// .last_result.json beside it), recognised by its `strategy` and `strategy_comparison` keys. Each
// strategy of a result is one run, named after it (and after the result file too when several
// result files hold the same strategy).
//
// Read, per strategy, from strategy.<name>:
//   trades[]: pair (the symbol), is_short (the side; absent before short selling: long),
//     open_date, close_date (UTC, "2024-01-02 10:05:00+00:00"), amount (qty), open_rate,
//     close_rate, fee_open and fee_close (rates: the fees are amount x rate x fee of each fill),
//     profit_abs (the P&L, net of fees, as freqtrade reports it), profit_ratio (the return),
//     min_rate and max_rate (the trade's lowest and highest price: its MAE and MFE as fractions of
//     open_rate, signed as everywhere in Tickscope), enter_tag, exit_reason, is_open
//   starting_balance (else dry_run_wallet): the capital; timeframe, stake_currency,
//     stake_amount, max_open_trades: the run's parameters
// The tag is enter_tag when the strategy tags any entry, else exit_reason (roi, stop_loss,
// exit_signal, ...), so a run's trades can be filtered by one or the other. A trade still open at
// the end (is_open) has no exit, as vectorbt's open trades. Freqtrade's result holds no bars:
// they are made of the trades' fills (trade-bars.ts). The .meta.json and .last_result.json files
// are left out as loose JSON (inputs/): they hold nothing the store keeps.
import { errorMessage } from '../../../shared/errors.js';
import { sqlString } from '../../sql/text.js';
import { PrepareError } from '../errors.js';
import { nameWithoutExtension, stampPath } from '../inputs/index.js';
import type { CandidateFile, Detection, FormatAdapter, FormatDescription, StageContext, StagedTables } from './adapter.js';
import { jsonDocumentSql, utcTimeSql } from './json-result.js';

interface FreqtradePlan {
  results: { file: CandidateFile; /** Appended to each strategy's name when several results are given. */ suffix: string | null }[];
}

/** Each strategy of a result: its run id and its JSON. */
function strategiesSql(r: FreqtradePlan['results'][number]): string {
  const name = r.suffix === null ? 'name' : `name || ${sqlString(` (${r.suffix})`)}`;
  return `SELECT ${name} AS run_id, name, doc->'strategy'->name AS s
    FROM (SELECT unnest(json_keys(doc->'strategy')) AS name, doc FROM ${jsonDocumentSql(r.file)})`;
}

function tradesSql(strategies: string): string {
  const t = 'tr';
  // Parenthesised: ->> binds less tightly than comparisons.
  const text = (key: string) => `(${t}->>${sqlString(key)})`;
  const num = (key: string) => `${text(key)}::DOUBLE`;
  const short = `coalesce(${text('is_short')}::BOOLEAN, false)`;
  const open = `coalesce(${text('is_open')}::BOOLEAN, false)`;
  return `SELECT run_id, symbol, side, entry_ts, exit_ts, qty, entry_price, exit_price, fees, pnl, ret, mae, mfe,
      CASE WHEN tagged THEN enter_tag ELSE exit_reason END AS tag,
      row_number() OVER (PARTITION BY run_id ORDER BY entry_ts, symbol, pos)::BIGINT AS trade_id
    FROM (
      SELECT run_id, pos,
        ${text('pair')} AS symbol,
        CASE WHEN ${short} THEN 'short' ELSE 'long' END AS side,
        ${utcTimeSql(text('open_date'))} AS entry_ts,
        CASE WHEN ${open} THEN NULL ELSE ${utcTimeSql(text('close_date'))} END AS exit_ts,
        ${num('amount')} AS qty,
        ${num('open_rate')} AS entry_price,
        CASE WHEN ${open} THEN NULL ELSE ${num('close_rate')} END AS exit_price,
        ${num('amount')} * (${num('open_rate')} * coalesce(${num('fee_open')}, 0)
          + CASE WHEN ${open} THEN 0 ELSE coalesce(${num('close_rate')}, 0) * coalesce(${num('fee_close')}, 0) END) AS fees,
        ${num('profit_abs')} AS pnl,
        ${num('profit_ratio')} AS ret,
        least(CASE WHEN ${short} THEN 1 - ${num('max_rate')} / ${num('open_rate')} ELSE ${num('min_rate')} / ${num('open_rate')} - 1 END, 0) AS mae,
        greatest(CASE WHEN ${short} THEN 1 - ${num('min_rate')} / ${num('open_rate')} ELSE ${num('max_rate')} / ${num('open_rate')} - 1 END, 0) AS mfe,
        ${text('enter_tag')} AS enter_tag,
        coalesce(${text('exit_reason')}, ${text('sell_reason')}) AS exit_reason,
        bool_or(coalesce(${text('enter_tag')}, '') <> '') OVER (PARTITION BY run_id) AS tagged
      FROM (SELECT run_id, unnest(json_extract(s->'trades', '$[*]')) AS ${t}, generate_subscripts(json_extract(s->'trades', '$[*]'), 1) AS pos FROM ${strategies})
    )`;
}

function runsSql(strategies: string): string {
  const params = ['timeframe', 'stake_currency', 'stake_amount', 'max_open_trades']
    .map((key) => `${sqlString(key)}, s->${sqlString(key)}`)
    .join(', ');
  return `SELECT run_id, name, json_object(${params})::VARCHAR AS params,
      coalesce((s->>'starting_balance')::DOUBLE, (s->>'dry_run_wallet')::DOUBLE) AS capital
    FROM ${strategies}`;
}

export const freqtradeAdapter: FormatAdapter<FreqtradePlan> = {
  id: 'freqtrade',
  label: 'Freqtrade backtest result',

  detect(files) {
    const results = files.filter((f) => f.format === 'json' && f.jsonKeys.includes('strategy') && f.jsonKeys.includes('strategy_comparison'));
    if (results.length === 0) return null;
    const suffix = (f: CandidateFile) => (results.length === 1 ? null : nameWithoutExtension(f.path).replace(/^backtest-result-/, ''));
    return { files: results, confidence: 'certain', plan: { results: results.map((file) => ({ file, suffix: suffix(file) })) } };
  },

  describe(detection: Detection<FreqtradePlan>): FormatDescription {
    const files = detection.plan.results.map((r) => ({
      path: stampPath(r.file),
      role: `backtest result (a run per strategy${r.suffix === null ? '' : `, named "<strategy> (${r.suffix})"`})`,
      columns: {
        run_id: 'strategy.<name>',
        symbol: 'trades[].pair',
        side: 'is_short',
        entry_ts: 'open_date',
        exit_ts: 'close_date (none while is_open)',
        qty: 'amount',
        entry_price: 'open_rate',
        exit_price: 'close_rate',
        fees: 'amount x (open_rate x fee_open + close_rate x fee_close)',
        pnl: 'profit_abs',
        ret: 'profit_ratio',
        mae: 'min_rate (max_rate when short) / open_rate - 1',
        mfe: 'max_rate (min_rate when short) / open_rate - 1',
        tag: 'enter_tag, or exit_reason when the strategy tags no entry',
        capital: 'starting_balance, else dry_run_wallet',
      },
    }));
    return {
      summary: `Freqtrade backtest result: ${files.map((f) => f.path).join(', ')}`,
      files,
      missing: [{ table: 'bars', why: "a Freqtrade result holds trades, not bars: bars are made of the trades' entry and exit fills, at their prices" }],
    };
  },

  async stage(detection, ctx: StageContext): Promise<StagedTables> {
    const { results } = detection.plan;
    const strategies = ctx.table('strategies');
    const trades = ctx.table('trades');
    const runs = ctx.table('runs');
    try {
      await ctx.con.run(`CREATE TEMP TABLE ${strategies} AS ${results.map(strategiesSql).join(' UNION ALL ')}`);
      await ctx.con.run(`CREATE TEMP TABLE ${trades} AS ${tradesSql(strategies)}`);
      await ctx.con.run(`CREATE TEMP TABLE ${runs} AS ${runsSql(strategies)}`);
    } catch (err) {
      throw new PrepareError(`Freqtrade backtest result ${results.map((r) => stampPath(r.file)).join(', ')} cannot be read: ${errorMessage(err)}`, { cause: err });
    }
    const sources = [
      'trades: strategy.<name>.trades (pnl = profit_abs, net of fees; fees from fee_open and fee_close)',
      'capital: starting_balance, else dry_run_wallet',
    ];
    return { trades, runs, sources };
  },
};
