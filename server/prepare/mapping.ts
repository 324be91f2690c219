// Column names: the canonical columns of each table, the common names they go by in the wild,
// and the explicit per-table mapping of the dataset description (description.ts: the `bars`,
// `trades`, `symbols` and `runs` keys of `tickscope.json`, canonical column -> input column).

import { PrepareError } from './errors.js';
import type { TableKind } from './inputs/index.js';

/** canonical column name -> column name in the input files, per table. */
export interface ColumnMapping {
  bars?: Record<string, string>;
  trades?: Record<string, string>;
  symbols?: Record<string, string>;
  runs?: Record<string, string>;
}

/** What a canonical column must hold. */
export type ColumnKind = 'key-string' | 'string' | 'timestamp' | 'number' | 'integer' | 'any';

export interface CanonicalColumn {
  aliases: string[];
  kind: ColumnKind;
  required?: boolean;
}

// Canonical column -> recognised names (lowercase; compared without spaces, dashes, dots), first
// match wins; the canonical name itself always wins over an alias.
export const COLUMNS: Record<TableKind, Record<string, CanonicalColumn>> = {
  bars: {
    run_id: { aliases: ['run', 'runid', 'run_name', 'backtest_id', 'backtest', 'strategy_id', 'strategy'], kind: 'key-string' },
    ts: { aliases: ['timestamp', 'dt', 'datetime', 'time', 'bar_time', 'bar_end', 'date', 'ts_utc', 'timestamp_utc', 'index'], kind: 'timestamp', required: true },
    symbol: { aliases: ['sid', 'ticker', 'asset', 'instrument', 'security', 'security_id', 'sym', 'permno', 'isin', 'figi'], kind: 'key-string', required: true },
    price: { aliases: ['close', 'px', 'last', 'close_price', 'last_price', 'mark', 'mark_price'], kind: 'number', required: true },
    position_qty: { aliases: ['position', 'amount', 'qty', 'quantity', 'shares', 'pos', 'holding', 'holdings', 'position_shares'], kind: 'number', required: true },
    position_value: { aliases: ['market_value', 'value', 'exposure', 'notional', 'position_notional', 'mv'], kind: 'number' },
    trade_qty: { aliases: ['traded_qty', 'fill_qty', 'trade_amount', 'trade', 'traded', 'order_qty', 'filled_qty'], kind: 'number' },
    fees: { aliases: ['fee', 'commission', 'commissions', 'costs', 'cost', 'transaction_costs', 'tcost'], kind: 'number' },
    pnl: { aliases: ['pl', 'p&l', 'profit', 'net_pnl', 'pnl_net', 'pnl_usd'], kind: 'number', required: true },
  },
  trades: {
    run_id: { aliases: ['run', 'runid', 'run_name', 'backtest_id', 'backtest', 'strategy_id', 'strategy', 'strategy_name'], kind: 'key-string' },
    trade_id: { aliases: ['id', 'trade', 'round_trip_id', 'tradeid', 'position_id'], kind: 'integer' },
    symbol: { aliases: ['sid', 'ticker', 'asset', 'instrument', 'security', 'security_id', 'sym', 'permno', 'isin', 'figi'], kind: 'key-string', required: true },
    side: { aliases: ['direction', 'long_short', 'dir', 'market_pos', 'market_position', 'position_side'], kind: 'string' },
    entry_ts: { aliases: ['entry_time', 'entry_dt', 'open_dt', 'open_time', 'open_ts', 'entry_date', 'opened', 'entry_timestamp', 'opened_at', 'open_date', 'entry_at'], kind: 'timestamp', required: true },
    exit_ts: { aliases: ['exit_time', 'exit_dt', 'close_dt', 'close_time', 'close_ts', 'exit_date', 'closed', 'exit_timestamp', 'closed_at', 'close_date', 'exit_at'], kind: 'timestamp' },
    qty: { aliases: ['quantity', 'amount', 'shares', 'size'], kind: 'number' },
    entry_price: { aliases: ['open_price', 'avg_entry_price', 'entry_px', 'price_in'], kind: 'number' },
    exit_price: { aliases: ['close_price', 'avg_exit_price', 'exit_px', 'price_out'], kind: 'number' },
    fees: { aliases: ['fee', 'commission', 'commissions', 'costs', 'cost'], kind: 'number' },
    pnl: { aliases: ['pl', 'p&l', 'profit', 'net_pnl', 'pnl_net'], kind: 'number' },
    ret: { aliases: ['return', 'returns', 'pnl_pct', 'rt_returns', 'return_pct'], kind: 'number' },
    bars_held: { aliases: ['duration_bars', 'bars', 'holding_bars', 'bars_in_trade'], kind: 'number' },
    mae: { aliases: ['max_adverse_excursion'], kind: 'number' },
    mfe: { aliases: ['max_favorable_excursion', 'max_favourable_excursion'], kind: 'number' },
    tag: { aliases: ['label', 'signal', 'reason', 'comment'], kind: 'string' },
  },
  symbols: {
    symbol: { aliases: ['sid', 'ticker', 'asset', 'instrument', 'security', 'security_id', 'sym', 'permno', 'isin', 'figi'], kind: 'key-string', required: true },
    sector: { aliases: ['gics_sector', 'sector_name'], kind: 'string' },
    industry: { aliases: ['gics_industry', 'sub_industry', 'industry_name'], kind: 'string' },
    multiplier: { aliases: ['contract_multiplier', 'contract_size', 'point_value', 'big_point_value', 'multiplier_value'], kind: 'number' },
  },
  runs: {
    run_id: { aliases: ['run', 'runid', 'backtest_id', 'backtest', 'strategy_id', 'strategy'], kind: 'key-string', required: true },
    name: { aliases: ['run_name', 'label', 'title', 'description'], kind: 'string' },
    params: { aliases: ['parameters', 'config', 'settings'], kind: 'any' },
    capital: { aliases: ['initial_capital', 'starting_capital', 'capital_base', 'starting_cash', 'initial_cash', 'aum'], kind: 'number' },
  },
};

/** The canonical columns a table cannot do without (COLUMNS' `required`). */
export function requiredColumns(kind: TableKind): string[] {
  return Object.entries(COLUMNS[kind]).filter(([, c]) => c.required).map(([name]) => name);
}

/** A camelCase or PascalCase name by its words, normalised (EntryTime is entry_time, TradePrice trade_price). */
export function camelWords(name: string): string {
  return normalise(name.replace(/([a-z0-9])([A-Z])/g, '$1_$2'));
}

/** A column name as names are compared: lowercase, runs of spaces, dots and dashes as '_'. */
export function normalise(name: string): string {
  // A dot, space or dash at either end says nothing ("Market pos.", NinjaTrader's): dropped, not made "_".
  return name.toLowerCase().replace(/^[\s.-]+|[\s.-]+$/g, '').replace(/[\s.-]+/g, '_');
}

/**
 * Finds the column for each canonical name: explicit mapping, else the canonical name, else an alias.
 * A mapped column that is missing is thrown, or given to `onMissing` (which collects every such
 * problem: schema-problems.ts) and that canonical column matched by name and alias instead.
 */
export function matchColumns(
  kind: TableKind,
  available: readonly string[],
  explicit: Record<string, string> | undefined,
  describe: () => string,
  onMissing?: (canonical: string, message: string) => void,
): Map<string, string> {
  const byNorm = new Map<string, string>();
  for (const name of available) if (!byNorm.has(normalise(name))) byNorm.set(normalise(name), name);
  // camelCase and PascalCase names (backtesting.py's EntryTime, ReturnPct; a JSON's entryPrice) by
  // their words too, after every name as written: PnL stays pnl, and is also pn_l, which nothing wants.
  for (const name of available) {
    const words = camelWords(name);
    if (!byNorm.has(words)) byNorm.set(words, name);
  }
  const exact = new Map<string, string>();
  for (const name of available) exact.set(name, name);
  const out = new Map<string, string>();
  const taken = new Set<string>();
  const canon = COLUMNS[kind];
  for (const [c] of Object.entries(canon)) {
    const want = explicit?.[c];
    if (want === undefined) continue;
    const col = exact.get(want) ?? byNorm.get(normalise(want));
    if (!col) {
      const message = `${describe()}: mapped column '${want}' (for ${kind}.${c}) is missing; columns found: ${available.join(', ')}`;
      if (!onMissing) throw new PrepareError(message);
      onMissing(c, message);
      continue;
    }
    out.set(c, col);
    taken.add(col);
  }
  for (const c of Object.keys(canon)) {
    if (out.has(c)) continue;
    const col = byNorm.get(c);
    if (col && !taken.has(col)) {
      out.set(c, col);
      taken.add(col);
    }
  }
  const canonicalNames = new Set(Object.keys(canon));
  for (const [c, def] of Object.entries(canon)) {
    if (out.has(c)) continue;
    for (const a of def.aliases) {
      const col = byNorm.get(normalise(a));
      // A column that is itself another canonical name is kept for that one.
      if (col && !taken.has(col) && !canonicalNames.has(normalise(col))) {
        out.set(c, col);
        taken.add(col);
        break;
      }
    }
  }
  return out;
}
