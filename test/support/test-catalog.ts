// The catalog the query-plan unit tests plan against: three trading days (2-4 January 2024,
// 14:30-21:00 UTC, 5-minute bars), two sectors, and the names each test chooses (usually hostile
// ones, to prove they reach SQL as bound values). One builder, so a new Catalog field is added once.
import { TradingTime } from '../../shared/trading-time.js';
import { tradingCalendar, type Catalog } from '../../server/session/store.js';

/** The first trading day of the test catalog (midnight UTC). */
export const TEST_DAY1 = Date.UTC(2024, 0, 2);
/** A range that cuts the first and the last day: whole days in the middle, bars at both ends. */
export const TEST_CUT_RANGE = { from: TEST_DAY1 + 16 * 3_600_000, to: TEST_DAY1 + 2 * 86_400_000 + 15 * 3_600_000 };

export interface TestCatalogOptions {
  runs: readonly string[];
  /** symbol -> sector; the sectors are their values. */
  symbols: readonly [string, string][];
  tags?: readonly string[];
  tradeCount: number;
  /** Catalog.tradeRanks (default true: one store). */
  tradeRanks?: boolean;
  zone?: string;
  riskFreeRate?: number;
}

export function testCatalog(o: TestCatalogOptions): Catalog {
  const days = [0, 1, 2].map((i) => {
    const midnight = TEST_DAY1 + i * 86_400_000;
    return { iso: new Date(midnight).toISOString().slice(0, 10), first: midnight + 14.5 * 3_600_000, last: midnight + 21 * 3_600_000 };
  });
  const calendar = tradingCalendar(days, 5 * 60_000);
  return {
    timezone: { zone: o.zone ?? 'UTC', source: 'test' },
    bars: { origin: 'input', period: 'intraday' },
    benchmark: { kind: 'market', name: `Equal-weighted market (${o.symbols.length} symbols)`, source: 'test' },
    riskFreeRate: o.riskFreeRate ?? 0,
    runs: new Map(o.runs.map((runId) => [runId, { runId, name: runId, capital: 1e6, capitalSource: 'test', params: {} }])),
    // As the runs table numbers them: 1, 2, ... in run_id order.
    runKeys: new Map([...o.runs].sort().map((runId, i) => [runId, i + 1])),
    sectors: new Set(o.symbols.map(([, sector]) => sector)),
    symbols: new Map(o.symbols),
    tags: new Set(o.tags ?? []),
    days,
    calendar,
    tradingTime: new TradingTime(calendar),
    tradeCount: o.tradeCount,
    tradeRanks: o.tradeRanks ?? true,
  };
}
