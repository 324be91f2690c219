// What the bars of a dataset are when the input had none of its own (DatasetSchema.bars): said
// once above every view, so that a flat price line or an empty sector view is never a mystery.
import type { DatasetSchema } from '../../../shared/messages.js';

export function BarsOriginNotice({ bars }: { bars: DatasetSchema['bars'] }) {
  if (bars.origin === 'trades') {
    return (
      <div className="banner banner-info" role="note" data-testid="bars-origin" data-origin="trades">
        <strong>No bars in this backtest's files:</strong> positions, exposure and daily P&amp;L are built from its trades. Each
        trade's P&amp;L counts on the day it closed, and prices are fill prices, so MAE, MFE and bars held appear only where the
        trades carry them.
      </div>
    );
  }
  if (bars.origin === 'portfolio') {
    return (
      <div className="banner banner-info" role="note" data-testid="bars-origin" data-origin="portfolio">
        <strong>A portfolio-only backtest:</strong> one series for the whole portfolio, no bars per symbol. The overview, its
        tearsheet, heatmap and rolling views use that series; sectors, symbols, positions and exposure need per-symbol bars.
      </div>
    );
  }
  return null;
}

/** The message of a view that breaks the portfolio down by sector or symbol, when there is nothing to break down. */
export function NoSymbolBars() {
  return (
    <div className="empty-state" data-testid="no-symbol-bars">
      This backtest is one series for the whole portfolio (returns or equity), with no bars per symbol: there are no sectors,
      symbols or positions to show. To see them, add per-symbol bars, or the tool's positions and transactions, to the dataset.
    </div>
  );
}
