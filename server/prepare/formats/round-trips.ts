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
//     pnl = (exit price - entry price) x qty (x -1 for shorts) - those fees;
//     ret = pnl / (entry price x qty), the return on the capital the round trip used.
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
export function roundTripsSql(fills: string): string {
  const q = QTY_DECIMALS;
  return `
WITH f AS (
  SELECT run_id, symbol, ts, seq, amount::DOUBLE AS amount, price::DOUBLE AS price, coalesce(fees, 0)::DOUBLE AS fees,
    round(sum(amount::DOUBLE) OVER (PARTITION BY run_id, symbol ORDER BY ts, seq ROWS UNBOUNDED PRECEDING), ${q}) AS p1
  FROM ${fills}
  WHERE amount <> 0
),
g AS (SELECT *, round(coalesce(lag(p1) OVER (PARTITION BY run_id, symbol ORDER BY ts, seq), 0), ${q}) AS p0 FROM f),
-- Per fill and side: the quantity it opened and the quantity it closed on that side.
legs AS (
  SELECT run_id, symbol, 'long' AS side, ts, seq, price, fees / abs(amount) AS fee_per_unit,
    round(greatest(greatest(p1, 0) - greatest(p0, 0), 0), ${q}) AS opened,
    round(greatest(greatest(p0, 0) - greatest(p1, 0), 0), ${q}) AS closed
  FROM g
  UNION ALL
  SELECT run_id, symbol, 'short' AS side, ts, seq, price, fees / abs(amount) AS fee_per_unit,
    round(greatest(least(p0, 0) - least(p1, 0), 0), ${q}) AS opened,
    round(greatest(least(p1, 0) - least(p0, 0), 0), ${q}) AS closed
  FROM g
),
lots AS (
  SELECT *, round(qty_to - opened, ${q}) AS qty_from FROM (
    SELECT run_id, symbol, side, ts, seq, price, fee_per_unit, opened,
      round(sum(opened) OVER (PARTITION BY run_id, symbol, side ORDER BY ts, seq ROWS UNBOUNDED PRECEDING), ${q}) AS qty_to
    FROM legs WHERE opened > 0)
),
closes AS (
  SELECT *, round(qty_to - closed, ${q}) AS qty_from FROM (
    SELECT run_id, symbol, side, ts, seq, price, fee_per_unit, closed,
      round(sum(closed) OVER (PARTITION BY run_id, symbol, side ORDER BY ts, seq ROWS UNBOUNDED PRECEDING), ${q}) AS qty_to
    FROM legs WHERE closed > 0)
),
closed_total AS (SELECT run_id, symbol, side, round(sum(closed), ${q}) AS total FROM closes GROUP BY ALL),
-- Every interval start (lots, closes) and the end of all closing: the points where a segment
-- changes lot or closing fill.
points AS (
  SELECT run_id, symbol, side, qty_from, max(lot_seq) AS lot_seq, max(close_seq) AS close_seq FROM (
    SELECT run_id, symbol, side, qty_from, seq AS lot_seq, NULL::BIGINT AS close_seq FROM lots
    UNION ALL SELECT run_id, symbol, side, qty_from, NULL, seq FROM closes
    UNION ALL SELECT run_id, symbol, side, total, NULL, NULL FROM closed_total
  ) GROUP BY ALL
),
segments AS (
  SELECT run_id, symbol, side, qty_from,
    lead(qty_from) OVER w AS next_from,
    last_value(lot_seq IGNORE NULLS) OVER w AS lot_seq,
    last_value(close_seq IGNORE NULLS) OVER w AS close_seq
  FROM points
  WINDOW w AS (PARTITION BY run_id, symbol, side ORDER BY qty_from ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
pieces AS (
  SELECT s.run_id, s.symbol, s.side, s.close_seq, s.lot_seq,
    round(least(coalesce(s.next_from, l.qty_to), l.qty_to) - s.qty_from, ${q}) AS qty,
    s.qty_from < coalesce(t.total, 0) AS is_closed,
    l.ts AS lot_ts, l.price AS lot_price, l.fee_per_unit AS lot_fee
  FROM segments s
  JOIN lots l ON l.run_id IS NOT DISTINCT FROM s.run_id AND l.symbol = s.symbol AND l.side = s.side AND l.seq = s.lot_seq
  LEFT JOIN closed_total t ON t.run_id IS NOT DISTINCT FROM s.run_id AND t.symbol = s.symbol AND t.side = s.side
  -- a point past the last lot's end has no quantity left (the end of closing on a flat side)
  WHERE s.qty_from < l.qty_to
),
matched AS (
  SELECT p.run_id, p.symbol, p.side, min(p.lot_ts) AS entry_ts, c.ts AS exit_ts, sum(p.qty) AS qty,
    sum(p.qty * p.lot_price) / sum(p.qty) AS entry_price, c.price AS exit_price,
    sum(p.qty * p.lot_fee) + sum(p.qty) * c.fee_per_unit AS fees
  FROM pieces p
  JOIN closes c ON c.run_id IS NOT DISTINCT FROM p.run_id AND c.symbol = p.symbol AND c.side = p.side AND c.seq = p.close_seq
  WHERE p.is_closed AND p.qty > 0
  GROUP BY p.run_id, p.symbol, p.side, c.seq, c.ts, c.price, c.fee_per_unit
),
still_open AS (
  SELECT run_id, symbol, side, min(lot_ts) AS entry_ts, NULL AS exit_ts, sum(qty) AS qty,
    any_value(lot_price) AS entry_price, NULL::DOUBLE AS exit_price, sum(qty * lot_fee) AS fees
  FROM pieces WHERE NOT is_closed AND qty > 0
  GROUP BY run_id, symbol, side, lot_seq
)
SELECT run_id, symbol, side, entry_ts, exit_ts, qty, entry_price, exit_price, fees,
  (exit_price - entry_price) * qty * (CASE side WHEN 'long' THEN 1 ELSE -1 END) - fees AS pnl,
  ((exit_price - entry_price) * qty * (CASE side WHEN 'long' THEN 1 ELSE -1 END) - fees) / nullif(entry_price * qty, 0) AS ret
FROM matched
UNION ALL
SELECT run_id, symbol, side, entry_ts, exit_ts, qty, entry_price, exit_price, fees, NULL::DOUBLE AS pnl, NULL::DOUBLE AS ret
FROM still_open`;
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
): Promise<void> {
  try {
    await con.run(`CREATE TEMP TABLE ${tables.fills} AS ${parts.join(' UNION ALL BY NAME ')}`);
    const bad = (await con.runAndReadAll(`SELECT count(*) FROM ${tables.fills} WHERE amount IS NULL`)).getRowsJson()[0]?.[0];
    if (Number(bad) > 0) throw new PrepareError(`${source}: ${withoutDirection(String(bad))}`);
    await con.run(`CREATE TEMP TABLE ${tables.target} AS SELECT * FROM (${roundTripsSql(tables.fills)})`);
  } catch (err) {
    if (err instanceof PrepareError) throw err;
    throw new PrepareError(`${source} cannot be read: ${errorMessage(err)}`, { cause: err });
  }
}
