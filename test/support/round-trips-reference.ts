// A plain FIFO matcher, one fill at a time, to check server/prepare/formats/round-trips.ts (its
// rules are written there): per (run, symbol) in time order, a fill with the position opens a lot,
// a fill against it closes the oldest lots first, one round trip per closing fill, a reversal
// opens a lot of the remainder; fees are shared per unit; lots left open are open round trips.

export interface Fill {
  run: string;
  symbol: string;
  ts: number;
  /** Tie order among fills at the same time. */
  seq: number;
  /** Signed: buy > 0. */
  amount: number;
  price: number;
  fees: number;
  /** The contract's multiplier (P&L = price move x quantity x it); 1 when absent. */
  multiplier?: number;
}

export interface RoundTrip {
  run: string;
  symbol: string;
  side: 'long' | 'short';
  entryTs: number;
  exitTs: number | null;
  qty: number;
  entryPrice: number;
  exitPrice: number | null;
  fees: number;
  pnl: number | null;
}

interface Lot {
  ts: number;
  price: number;
  qty: number;
  feePerUnit: number;
}

export function fifoRoundTrips(fills: readonly Fill[]): RoundTrip[] {
  const out: RoundTrip[] = [];
  const groups = new Map<string, Fill[]>();
  for (const f of fills) {
    const key = `${f.run}\u0000${f.symbol}`;
    (groups.get(key) ?? groups.set(key, []).get(key)!).push(f);
  }
  for (const group of groups.values()) {
    group.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
    const lots: Lot[] = [];
    let position = 0;
    for (const f of group) {
      if (f.amount === 0) continue;
      const feePerUnit = f.fees / Math.abs(f.amount);
      let left = Math.abs(f.amount);
      const dir = Math.sign(f.amount);
      if (position !== 0 && Math.sign(position) !== dir) {
        const side = position > 0 ? 'long' : 'short';
        let qty = 0;
        let cost = 0;
        let fees = 0;
        let entryTs = Infinity;
        while (left > 1e-9 && lots.length) {
          const lot = lots[0]!;
          const take = Math.min(lot.qty, left);
          qty += take;
          cost += take * lot.price;
          fees += take * lot.feePerUnit;
          entryTs = Math.min(entryTs, lot.ts);
          lot.qty -= take;
          left -= take;
          if (lot.qty <= 1e-9) lots.shift();
        }
        const entryPrice = cost / qty;
        fees += qty * feePerUnit;
        const pnl = (f.price - entryPrice) * qty * (side === 'long' ? 1 : -1) * (f.multiplier ?? 1) - fees;
        out.push({ run: f.run, symbol: f.symbol, side, entryTs, exitTs: f.ts, qty, entryPrice, exitPrice: f.price, fees, pnl });
        position += dir * qty;
      }
      if (left > 1e-9) {
        lots.push({ ts: f.ts, price: f.price, qty: left, feePerUnit });
        position += dir * left;
      }
    }
    for (const lot of lots) {
      out.push({
        run: group[0]!.run, symbol: group[0]!.symbol, side: position > 0 ? 'long' : 'short', entryTs: lot.ts, exitTs: null,
        qty: lot.qty, entryPrice: lot.price, exitPrice: null, fees: lot.qty * lot.feePerUnit, pnl: null,
      });
    }
  }
  return out;
}

/** A trade row as the store or a query answers it (times in epoch ms), as a RoundTrip. */
export function roundTripOfRow(r: Record<string, unknown>, times: { entry: string; exit: string } = { entry: 'entry_ts', exit: 'exit_ts' }): RoundTrip {
  const exit = r[times.exit];
  return {
    run: String(r['run_id']),
    symbol: String(r['symbol']),
    side: r['side'] as 'long' | 'short',
    entryTs: Number(r[times.entry]),
    exitTs: exit === null ? null : Number(exit),
    qty: Number(r['qty']),
    entryPrice: Number(r['entry_price']),
    exitPrice: r['exit_price'] === null ? null : Number(r['exit_price']),
    fees: Number(r['fees']),
    pnl: r['pnl'] === null ? null : Number(r['pnl']),
  };
}
