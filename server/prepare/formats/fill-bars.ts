// Daily bars from fills: the bars of a backtest whose tool wrote no per-bar positions or prices
// (pyfolio transactions, and any dataset with trades but no bars: build.ts derives its fills from
// the trades). One module, so every such dataset gets bars by the same rules:
//
//   - One bar per run, symbol and day on which the symbol traded or was held. The days are the
//     dataset's calendar: every day on which any symbol of the run traded (or, with a positions
//     frame, was valued). A position held across days without fills gets a bar on each of them,
//     so exposure and positions are right on every day, not only on trading days.
//   - trade_qty and fees are the day's fills summed; position_qty is their running sum (rounded
//     to 1e-9, as round-trips.ts rounds); the price is the day's last fill price, carried over
//     the days without fills; position_value is the positions frame's value when there is one,
//     else position_qty x that price.
//   - pnl, by the `pnl` option:
//       'marked':   value_t - value_{t-1} - (the day's fills' amount x price) - fees: P&L marked at
//                   the positions' values or the last fill price (pyfolio's own definition);
//       'realized': the `realized` column of the day's fills summed: the P&L a tool computed for
//                   its trades, booked on the day they closed (build.ts books an open trade's P&L,
//                   when the tool gave one, on the run's last day). Totals are then exactly the
//                   tool's, whatever multipliers or conventions its P&L carries.
//   - The bar's ts is the day (a DATE, or a TIMESTAMPTZ at the day's midnight in the exchange
//     zone when `dayStart` is given): a daily bar stands for its whole day (derive-trades.ts,
//     "daily bars").

/** Quantities are compared after rounding to this many decimals, as round-trips.ts does. */
const QTY_DECIMALS = 9;

export interface FillBarsOptions {
  /**
   * The fills: run_id, symbol, day (DATE), seq (orders fills of one day), amount (signed, buy > 0),
   * price (NULL for a row that only books P&L), fees, and `realized` when pnl is 'realized'.
   */
  fills: string;
  /** Daily position values from a positions frame: run_id, symbol, day, value (0 = none). */
  values?: string;
  pnl: 'marked' | 'realized';
  /** SQL turning the column `day` into the bar's ts; the DATE itself when absent. */
  dayStart?: (day: string) => string;
}

/** The canonical bars (run_id, ts, symbol, price, position_qty, position_value, trade_qty, fees, pnl) of `o.fills`. */
export function dailyBarsFromFillsSql(o: FillBarsOptions): string {
  const q = QTY_DECIMALS;
  const values = o.values ?? 'SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS symbol, NULL::DATE AS day, NULL::DOUBLE AS value WHERE false';
  const pnl =
    o.pnl === 'marked'
      ? 'position_value - prev_value - coalesce(cash_flow, 0) - coalesce(fees, 0)'
      : 'coalesce(realized, 0)';
  const ts = o.dayStart ? o.dayStart('day') : 'day';
  return `
WITH day_fills AS (
  SELECT run_id, symbol, day, sum(amount) AS trade_qty, sum(amount * price) AS cash_flow, sum(fees) AS fees,
    arg_max(price, seq) FILTER (WHERE price IS NOT NULL) AS last_price,
    ${o.pnl === 'realized' ? 'sum(realized)' : 'NULL::DOUBLE'} AS realized
  FROM ${o.fills} GROUP BY run_id, symbol, day
),
vals AS (SELECT run_id, symbol, day, value FROM (${values})),
calendar AS (SELECT DISTINCT run_id, day FROM (SELECT run_id, day FROM day_fills UNION ALL SELECT run_id, day FROM vals)),
-- After each day with fills: the position left, and the next day with fills.
after_fills AS (
  SELECT run_id, symbol, day,
    round(sum(coalesce(trade_qty, 0)) OVER (PARTITION BY run_id, symbol ORDER BY day ROWS UNBOUNDED PRECEDING), ${q}) AS qty_after,
    lead(day) OVER (PARTITION BY run_id, symbol ORDER BY day) AS next_fill_day
  FROM day_fills
),
-- The days a position is held without fills: between a day that leaves one open and the next fill.
carried AS (
  SELECT a.run_id, a.symbol, c.day FROM after_fills a
  JOIN calendar c ON c.run_id IS NOT DISTINCT FROM a.run_id AND c.day > a.day AND (a.next_fill_day IS NULL OR c.day < a.next_fill_day)
  WHERE a.qty_after <> 0
),
grid AS (
  SELECT run_id, symbol, day FROM day_fills
  UNION SELECT run_id, symbol, day FROM carried
  UNION SELECT run_id, symbol, day FROM vals WHERE value <> 0
),
joined AS (
  SELECT g.run_id, g.symbol, g.day, f.trade_qty, f.cash_flow, f.fees, f.last_price, f.realized, v.value
  FROM grid g
  LEFT JOIN day_fills f ON f.run_id IS NOT DISTINCT FROM g.run_id AND f.symbol = g.symbol AND f.day = g.day
  LEFT JOIN vals v ON v.run_id IS NOT DISTINCT FROM g.run_id AND v.symbol = g.symbol AND v.day = g.day
),
held AS (
  SELECT *,
    round(sum(coalesce(trade_qty, 0)) OVER w, ${q}) AS qty,
    last_value(last_price IGNORE NULLS) OVER w AS fill_price
  FROM joined
  WINDOW w AS (PARTITION BY run_id, symbol ORDER BY day ROWS UNBOUNDED PRECEDING)
),
valued AS (SELECT *, ${o.values ? 'coalesce(value, qty * fill_price)' : 'qty * fill_price'} AS position_value FROM held),
priced AS (SELECT *, coalesce(lag(position_value) OVER (PARTITION BY run_id, symbol ORDER BY day), 0) AS prev_value FROM valued)
SELECT run_id, ${ts} AS ts, symbol,
  CASE WHEN qty <> 0 AND position_value IS NOT NULL THEN position_value / qty ELSE fill_price END AS price,
  qty AS position_qty, position_value, coalesce(trade_qty, 0) AS trade_qty, coalesce(fees, 0) AS fees,
  ${pnl} AS pnl
FROM priced`;
}
