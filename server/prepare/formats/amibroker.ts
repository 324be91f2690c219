// AmiBroker's backtest trade list, exported from the Analysis window (File > Export, or the result
// list's Export) as CSV:
//   Symbol, Trade, Date, Price, Ex. date, Ex. Price, % chg, Profit, % Profit, Shares,
//   Position value, Cum. Profit, # bars, Profit/bar, MAE, MFE, Scale In/Out
// One row per trade: Trade is its side (Long, Short), Date and Price its entry, Ex. date and Ex.
// Price its exit. Profit is AmiBroker's net profit (commissions taken, the symbol's point value
// applied: money); % Profit is it over the position value, the trade's return; MAE and MFE are
// percentages of the entry price. Percentages are written with their sign (2.76%) or without
// (2.76): the header says they are percentages either way. Dates are as the Windows locale writes
// them (1/18/2024, 18.01.2024 09:35:00): read per file (text-dates.ts), month or day first decided
// from the file's data, since two exports of one dataset may come from two locales. An open position (listed when the backtest keeps them) has
// "Open" for a side or an exit date: it keeps the P&L AmiBroker marked it at, without an exit, as
// vectorbt's and TradingView's open trades do.
// Read the canonical way the list came out wrong: Trade became the trade number, and no entry time
// was found (Date names no table column).
import { errorMessage } from '../../../shared/errors.js';
import { sqlIdent, sqlString } from '../../sql/text.js';
import { familyOf, type ColumnInfo } from '../column-types.js';
import { PrepareError } from '../errors.js';
import { exportedNumberSql } from '../expressions.js';
import { textDateReadingsOf, textDateSql, type TextDateReading } from '../text-dates.js';
import { stampPath } from '../inputs/index.js';
import { runOfFile, type Detection, type FormatAdapter, type FormatDescription, type StagedTables } from './adapter.js';
import { detectLists, timeOf, type Columns, type ListFile } from './named-columns.js';

/** Which column plays each part, by its normalised name (mapping.ts normalise: "Ex. date" is ex_date). */
const PARTS: Record<string, RegExp> = {
  symbol: /^symbol$/,
  trade: /^trade$/,
  entryTime: /^date$/,
  entryPrice: /^price$/,
  exitTime: /^ex_date$/,
  exitPrice: /^ex_price$/,
  profit: /^profit$/,
  profitPercent: /^%_profit$/,
  qty: /^(shares|contracts|qty|quantity)$/,
  bars: /^#_bars$/,
  mae: /^mae$/,
  mfe: /^mfe$/,
};
// Ex. date and Ex. Price beside Trade: AmiBroker's own header.
const REQUIRED = ['symbol', 'trade', 'entryTime', 'entryPrice', 'exitTime', 'exitPrice', 'profit'];

const LABEL = 'AmiBroker trade list';

/** A percentage column as a fraction: 2.76% and 2.76 are both 0.0276 (the header says percent). */
function percentSql(c: ColumnInfo | undefined): string {
  if (!c) return 'NULL::DOUBLE';
  const number = exportedNumberSql(c);
  return familyOf(c) === 'string' ? `CASE WHEN strpos(${sqlIdent(c.name)}::VARCHAR, '%') > 0 THEN ${number} ELSE ${number} / 100 END` : `${number} / 100`;
}

/**
 * A time column as ISO text: a text form of text-dates.ts read per file (two exports of a dataset
 * may come from two locales), text it does not take kept for the pipeline's check to name.
 */
function isoTimeSql(c: ColumnInfo, reading: TextDateReading | undefined): string {
  if (familyOf(c) !== 'string') return `${sqlIdent(c.name)}::VARCHAR`;
  const text = timeOf(c);
  return reading ? `coalesce(${textDateSql(text, reading)}::VARCHAR, ${text})` : text;
}

/** A file's trades, open ones marked (`is_open`). */
function tradesSql(p: Columns, relation: string, run: string, dates: Map<string, TextDateReading>): string {
  const text = (c: ColumnInfo) => `lower(trim(${sqlIdent(c.name)}::VARCHAR))`;
  const exit = p['exitTime']!;
  const isOpen = `(${text(p['trade']!)} LIKE '%open%' OR ${familyOf(exit) === 'string' ? `${text(exit)} = 'open'` : 'false'})`;
  return `SELECT ${sqlString(run)} AS run_id, NULL::BIGINT AS trade_id, trim(${sqlIdent(p['symbol']!.name)}::VARCHAR) AS symbol,
      CASE WHEN ${text(p['trade']!)} LIKE '%short%' THEN 'short' ELSE 'long' END AS side,
      ${isoTimeSql(p['entryTime']!, dates.get(p['entryTime']!.name))} AS entry_ts,
      CASE WHEN NOT is_open THEN ${isoTimeSql(exit, dates.get(exit.name))} END AS exit_ts,
      abs(${exportedNumberSql(p['qty'])}) AS qty, ${exportedNumberSql(p['entryPrice'])} AS entry_price,
      CASE WHEN NOT is_open THEN ${exportedNumberSql(p['exitPrice'], 'NOT is_open')} END AS exit_price,
      NULL::DOUBLE AS fees, ${exportedNumberSql(p['profit'])} AS pnl, ${percentSql(p['profitPercent'])} AS ret,
      ${p['bars'] ? `TRY_CAST(${exportedNumberSql(p['bars'])} AS BIGINT)` : 'NULL::BIGINT'} AS bars_held,
      -abs(${percentSql(p['mae'])}) AS mae, abs(${percentSql(p['mfe'])}) AS mfe,
      CASE WHEN is_open THEN 'open' END AS tag
    FROM (SELECT *, ${isOpen} AS is_open FROM ${relation})`;
}

export const amibrokerAdapter: FormatAdapter<{ files: ListFile[] }> = {
  id: 'amibroker',
  label: LABEL,

  detect(files) {
    return detectLists(files, PARTS, REQUIRED);
  },

  describe(detection: Detection<{ files: ListFile[] }>): FormatDescription {
    const files = detection.plan.files.map(({ file, parts: p }) => ({
      path: stampPath(file),
      role: 'trade list (one row per trade)',
      columns: Object.fromEntries(
        Object.entries({
          symbol: p['symbol']!.name,
          side: `${p['trade']!.name} (Long, Short)`,
          entry_ts: p['entryTime']!.name,
          exit_ts: `${p['exitTime']!.name} (none for an open position)`,
          qty: p['qty']?.name,
          entry_price: p['entryPrice']!.name,
          exit_price: p['exitPrice']!.name,
          pnl: `${p['profit']!.name} (AmiBroker's net profit)`,
          ret: p['profitPercent'] ? `${p['profitPercent'].name} (percent)` : undefined,
          bars_held: p['bars']?.name,
          mae: p['mae'] ? `${p['mae'].name} (percent of the entry price)` : undefined,
          mfe: p['mfe'] ? `${p['mfe'].name} (percent of the entry price)` : undefined,
        }).filter((e): e is [string, string] => e[1] !== undefined),
      ),
    }));
    return {
      summary: `${LABEL}: ${files.map((f) => f.path).join(', ')}`,
      files,
      missing: [{ table: 'bars', why: "a trade list holds no per-bar positions or prices: daily bars are made of the trades' entry and exit fills (P&L on the day each closed)" }],
    };
  },

  async stage(detection, ctx): Promise<StagedTables> {
    const parts: string[] = [];
    for (const [i, { file, parts: p }] of detection.plan.files.entries()) {
      const target = ctx.table(`trades_${i}`);
      try {
        const relation = await ctx.read(file);
        // Both dates of a file in one form, month or day first decided over both (text-dates.ts).
        const texts = [p['entryTime']!, p['exitTime']!].filter((c) => familyOf(c) === 'string');
        const dates = await textDateReadingsOf(ctx.con, `(SELECT * FROM ${relation} WHERE lower(trim(${sqlIdent(p['exitTime']!.name)}::VARCHAR)) IS DISTINCT FROM 'open')`, texts, ctx.description.dateOrder);
        await ctx.con.run(`CREATE TEMP TABLE ${target} AS ${tradesSql(p, relation, runOfFile(file), dates)}`);
      } catch (err) {
        throw new PrepareError(`${LABEL} ${stampPath(file)} cannot be read: ${errorMessage(err)}`, { cause: err });
      }
      parts.push(`SELECT * FROM ${target}`);
    }
    const trades = ctx.table('trades');
    await ctx.con.run(`CREATE TEMP TABLE ${trades} AS ${parts.join(' UNION ALL ')}`);
    return { trades, sources: ["trades: AmiBroker's trade list (pnl = its Profit, net; ret = % Profit; MAE and MFE percent of the entry price)"] };
  },
};
