// Round trips from fills, FIFO, in SQL: the one matcher every adapter with fills uses (pyfolio
// transactions, vectorbt orders, Lean orders, Nautilus fills).
//
// Matching rules:
//   - Fills are matched per (run_id, symbol), in time order; fills at the same time keep the
//     order of `seq` (the order the tool wrote them).
//   - Quantities are signed (buy > 0, sell < 0) and may be fractional. The position after each
//     fill is the running sum, rounded to 1e-9 so that a float sum that should be flat is flat.
//   - A fill that adds to a position (or opens one) opens a lot at its price. A fill against the
//     position closes the oldest lots first (FIFO), splitting a lot when it closes only part of
//     it. A fill that reverses the position (long 10, sell 15) closes the whole position and
//     opens a lot of the remainder (short 5) at its price.
//   - One round trip per closing fill and side: its quantity is what the fill closed, its entry
//     the earliest lot it closed, its entry price the quantity-weighted mean of those lots'
//     prices, its exit the fill. side = the side of the lots closed.
//   - Fees: each fill's fee is shared over its quantity; a round trip carries the share of its
//     lots' opening fees and of its closing fill's fee for the quantity it closed.
//     pnl = (exit price - entry price) x qty (x -1 for shorts) x multiplier - those fees;
//     ret = pnl / (entry price x qty x multiplier), the return on the capital the round trip used.
//     The multiplier is the contract's (a future's point value: 50 for ES), when the fills carry
//     one (a `multiplier` column, NULL as 1); one per run and symbol (stageRoundTrips refuses two).
//     When the tool booked the P&L of each closing fill itself (a `realized` column: MetaTrader's
//     deals, whose Profit is in the account's currency), that amount is the round trip's P&L
//     before fees instead of the price move, so the trades sum to the tool's own P&L.
//   - Lots still open at the end are round trips without an exit (exit_ts, exit_price and pnl
//     NULL): the trade list shows them as open.
//
// Where this differs from pyfolio's `extract_round_trips` (pyfolio/round_trips.py):
//   - pyfolio first merges same-direction fills less than 8 hours apart into one VWAP fill; here
//     fills are kept as written, so two closing fills are two round trips.
//   - pyfolio counts whole shares (`abs(amount).astype(int)`); here quantities may be fractional
//     (crypto, FX).
//   - pyfolio's pnl ignores commissions; here pnl is after fees, as every Tickscope P&L is.
//   - pyfolio's `returns` divide pnl by the portfolio value of the close day; `ret` here is its
//     `rt_returns` (pnl over the capital invested in the round trip).
//   - pyfolio closes open positions at the last price (add_closing_transactions); here they stay
//     open.
//   - pyfolio skips fills with a negative price with a warning; here they are bad rows (the
//     pipeline's checks).
//
// How: FIFO matching on a cumulative axis. On each side (long, short) of a symbol, the quantity
// opened and the quantity closed only grow, and FIFO means the k-th unit closed is the k-th unit
// opened. So each lot is an interval [start, end) of cumulative opened quantity, each closing
// fill an interval of cumulative closed quantity, and a round trip's lots are the intervals its
// own overlaps: found by one sort of the interval starts and window functions, O(n log n) for n
// fills, without a row-by-row loop.
//
// Four window passes and no join: the position (running sum) and the position before each fill
// (its lag), the four running sums of opened and closed quantity per side (one pass over the
// fills, all four in one sort), then one pass over the interval starts that carries each lot's
// and each closing fill's own fields forward (last_value IGNORE NULLS) to the pieces between
// them. Joining the pieces back to their lots and fills on (run_id, symbol, side, seq), the way
// this was first written, cost as much as the passes themselves; so did a window pass per side.
// Sums over a round trip's pieces may differ from that version in the last bit (1e-16 relative).
import type { DuckDBConnection } from '@duckdb/node-api';
import { errorMessage } from '../../../shared/errors.js';
import { PrepareError } from '../errors.js';

/** Quantities (positions, lot sizes) are compared after rounding to this many decimals. */
const QTY_DECIMALS = 9;

/**
 * The trades (canonical columns: run_id, symbol, side, entry_ts, exit_ts, qty, entry_price,
 * exit_price, fees, pnl, ret) of the fills in `fills`, a relation with columns run_id, symbol,
 * ts, seq (tie order), amount (signed), price, fees (NULL as 0). Timestamps stay as given.
 */
export function roundTripsSql(fills: string, options: { multiplier?: boolean; realized?: boolean } = {}): string {
  const q = QTY_DECIMALS;
  const w = `PARTITION BY run_id, symbol ORDER BY ts, seq`;
  // One multiplier per run and symbol (stageRoundTrips checks it), read only when the fills carry one.
  const m = options.multiplier ? 'u.m' : '1.0::DOUBLE';
  const multiplierJoin = options.multiplier
    ? `JOIN (SELECT run_id, symbol, max(coalesce(multiplier, 1))::DOUBLE AS m FROM ${fills} GROUP BY run_id, symbol) u
    ON u.run_id IS NOT DISTINCT FROM t.run_id AND u.symbol IS NOT DISTINCT FROM t.symbol`
    : '';
  // Per side: an event per lot start (lot_*), per closing fill's start (close_*) and the end of all
  // closing (total), at its place (qty_from) on the side's cumulative axis.
  const sideEvents = (side: 'long' | 'short') => `
  SELECT run_id, symbol, '${side}' AS side, round(${side}_opened_to - ${side}_opened, ${q}) AS qty_from,
    seq AS lot_seq, ts AS lot_ts, price AS lot_price, fee_per_unit AS lot_fee, ${side}_opened_to AS lot_to,
    NULL::BIGINT AS close_seq, NULL AS close_ts, NULL::DOUBLE AS close_price, NULL::DOUBLE AS close_fee, NULL::DOUBLE AS total
  FROM axes WHERE ${side}_opened > 0
  UNION ALL
  SELECT run_id, symbol, '${side}', round(${side}_closed_to - ${side}_closed, ${q}),
    NULL, NULL, NULL, NULL, NULL, seq, ts, price, fee_per_unit, NULL
  FROM axes WHERE ${side}_closed > 0
  UNION ALL
  SELECT run_id, symbol, '${side}', ${side}_total, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ${side}_total
  FROM closed_totals`;
  return `
WITH f AS (
  SELECT run_id, symbol, ts, seq, price::DOUBLE AS price, coalesce(fees, 0)::DOUBLE / abs(amount::DOUBLE) AS fee_per_unit,
    round(sum(amount::DOUBLE) OVER (${w} ROWS UNBOUNDED PRECEDING), ${q}) AS p1
  FROM ${fills}
  WHERE amount <> 0
),
g AS (SELECT *, round(coalesce(lag(p1) OVER (${w}), 0), ${q}) AS p0 FROM f),
-- Per fill: the quantity it opened and the quantity it closed on each side.
legs AS (
  SELECT run_id, symbol, ts, seq, price, fee_per_unit,
    round(greatest(greatest(p1, 0) - greatest(p0, 0), 0), ${q}) AS long_opened,
    round(greatest(greatest(p0, 0) - greatest(p1, 0), 0), ${q}) AS long_closed,
    round(greatest(least(p0, 0) - least(p1, 0), 0), ${q}) AS short_opened,
    round(greatest(least(p1, 0) - least(p0, 0), 0), ${q}) AS short_closed
  FROM g
),
-- Where each fill's intervals end on the cumulative axes: the four running sums in one sort.
axes AS (
  SELECT *,
    round(sum(long_opened) OVER run, ${q}) AS long_opened_to, round(sum(long_closed) OVER run, ${q}) AS long_closed_to,
    round(sum(short_opened) OVER run, ${q}) AS short_opened_to, round(sum(short_closed) OVER run, ${q}) AS short_closed_to
  FROM legs
  WINDOW run AS (${w} ROWS UNBOUNDED PRECEDING)
),
closed_totals AS (
  SELECT run_id, symbol, max(long_closed_to) AS long_total, max(short_closed_to) AS short_total FROM axes GROUP BY run_id, symbol
),
events AS (${sideEvents('long')}
  UNION ALL${sideEvents('short')}
),
-- A piece per stretch between consecutive events: the lot and the closing fill it lies in are the
-- last ones started at or before it. Events at the same place make zero-length pieces (dropped);
-- the last of them sees them all.
pieces AS (
  SELECT run_id, symbol, side, lot_seq, lot_ts, lot_price, lot_fee, close_seq, close_ts, close_price, close_fee,
    round(least(coalesce(next_from, lot_to), lot_to) - qty_from, ${q}) AS qty,
    qty_from < coalesce(total, 0) AS is_closed
  FROM (
    SELECT run_id, symbol, side, qty_from,
      lead(qty_from) OVER ordered AS next_from,
      last_value(lot_seq IGNORE NULLS) OVER upto AS lot_seq,
      last_value(lot_ts IGNORE NULLS) OVER upto AS lot_ts,
      last_value(lot_price IGNORE NULLS) OVER upto AS lot_price,
      last_value(lot_fee IGNORE NULLS) OVER upto AS lot_fee,
      last_value(lot_to IGNORE NULLS) OVER upto AS lot_to,
      last_value(close_seq IGNORE NULLS) OVER upto AS close_seq,
      last_value(close_ts IGNORE NULLS) OVER upto AS close_ts,
      last_value(close_price IGNORE NULLS) OVER upto AS close_price,
      last_value(close_fee IGNORE NULLS) OVER upto AS close_fee,
      max(total) OVER whole AS total
    FROM events
    WINDOW ordered AS (PARTITION BY run_id, symbol, side ORDER BY qty_from),
      upto AS (ordered ROWS UNBOUNDED PRECEDING),
      whole AS (ordered ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
  )
  -- no lot yet, or past the last lot's end: no quantity (the end of closing on a flat side)
  WHERE lot_seq IS NOT NULL AND qty_from < lot_to
),
matched AS (
  SELECT run_id, symbol, side, close_seq, min(lot_ts) AS entry_ts, close_ts AS exit_ts, sum(qty) AS qty,
    sum(qty * lot_price) / sum(qty) AS entry_price, close_price AS exit_price,
    sum(qty * lot_fee) + sum(qty) * close_fee AS fees
  FROM pieces
  WHERE is_closed AND qty > 0
  GROUP BY run_id, symbol, side, close_seq, close_ts, close_price, close_fee
),
still_open AS (
  SELECT run_id, symbol, side, min(lot_ts) AS entry_ts, NULL AS exit_ts, sum(qty) AS qty,
    any_value(lot_price) AS entry_price, NULL::DOUBLE AS exit_price, sum(qty * lot_fee) AS fees
  FROM pieces WHERE NOT is_closed AND qty > 0
  GROUP BY run_id, symbol, side, lot_seq
)
SELECT run_id, symbol, side, entry_ts, exit_ts, qty, entry_price, exit_price, fees, gross - fees AS pnl, (gross - fees) / nullif(entry_price * qty * m, 0) AS ret
FROM (
  SELECT t.*, ${m} AS m, ${options.realized ? 'coalesce(r.realized, ' : '('}(exit_price - entry_price) * qty * (CASE side WHEN 'long' THEN 1 ELSE -1 END) * ${m}) AS gross
  FROM matched t ${multiplierJoin}
  ${options.realized ? `LEFT JOIN (SELECT seq, realized FROM ${fills}) r ON r.seq = t.close_seq` : ''}
)
UNION ALL
SELECT run_id, symbol, side, entry_ts, exit_ts, qty, entry_price, exit_price, fees, NULL::DOUBLE AS pnl, NULL::DOUBLE AS ret
FROM still_open`;
}

/**
 * `fills` with the contract multiplier the symbols input gives each symbol (StageContext.multiplier,
 * multipliers.ts: one per symbol, above 0) as its column `multiplier`, for fills that carry none of
 * their own (a tool's transactions or orders: pyfolio, zipline, Lean, Nautilus); null
 * when the symbols give no multiplier. Without it a future's round trip is its price move x
 * quantity: 1/50 of the P&L of an ES trade.
 */
export function fillsWithSymbolMultiplier(fills: string, multiplierOf: (symbol: string) => string | null): string | null {
  const multiplier = multiplierOf('symbol');
  return multiplier === null ? null : `(SELECT *, ${multiplier} AS multiplier FROM ${fills})`;
}

/** How a source line names the symbols input's multiplier in a round trip's P&L. */
export const SYMBOLS_MULTIPLIER = "symbols' multiplier";

/**
 * The round trips (roundTripsSql) of a tool's fills that carry no multiplier of their own (pyfolio,
 * zipline, Lean orders), priced with the symbols input's when it gives any
 * (fillsWithSymbolMultiplier); `pricing` says so for the source line, null when it gives none.
 */
export function toolRoundTripsSql(fills: string, multiplierOf: (symbol: string) => string | null): { sql: string; pricing: string | null } {
  const priced = fillsWithSymbolMultiplier(fills, multiplierOf);
  return priced === null
    ? { sql: roundTripsSql(fills), pricing: null }
    : { sql: roundTripsSql(priced, { multiplier: true }), pricing: `price move x quantity x the ${SYMBOLS_MULTIPLIER}` };
}

/**
 * Stages fills read by an adapter (`parts`: SELECTs of the fills columns, unioned by name) into
 * the temp table `fills`, and their FIFO round trips into `target`. A fill without a direction or
 * a quantity (amount NULL) is refused, as are unreadable files, naming `source` (what the tool
 * wrote and which files).
 */
export async function stageRoundTrips(
  con: DuckDBConnection,
  parts: readonly string[],
  tables: { fills: string; target: string },
  source: string,
  withoutDirection: (count: string) => string,
  options: { multiplier?: { column: string }; realized?: boolean } = {},
): Promise<void> {
  try {
    await con.run(`CREATE TEMP TABLE ${tables.fills} AS ${parts.join(' UNION ALL BY NAME ')}`);
    const bad = (await con.runAndReadAll(`SELECT count(*) FROM ${tables.fills} WHERE amount IS NULL`)).getRowsJson()[0]?.[0];
    if (Number(bad) > 0) throw new PrepareError(`${source}: ${withoutDirection(String(bad))}`);
    if (options.multiplier) {
      const [mixed] = (await con.runAndReadAll(
        `SELECT symbol, string_agg(DISTINCT printf('%g', coalesce(multiplier, 1)), ' and ') FROM ${tables.fills} GROUP BY run_id, symbol HAVING count(DISTINCT coalesce(multiplier, 1)) > 1 OR min(coalesce(multiplier, 1)) <= 0 LIMIT 1`,
      )).getRowsJson();
      if (mixed) {
        throw new PrepareError(
          `${source}: the fills of ${String(mixed[0])} carry the ${options.multiplier.column} ${String(mixed[1])}; a contract has one positive multiplier, the same on every fill`,
        );
      }
    }
    await con.run(`CREATE TEMP TABLE ${tables.target} AS SELECT * FROM (${roundTripsSql(tables.fills, { multiplier: options.multiplier !== undefined, realized: options.realized === true })})`);
  } catch (err) {
    if (err instanceof PrepareError) throw err;
    throw new PrepareError(`${source} cannot be read: ${errorMessage(err)}`, { cause: err });
  }
}
