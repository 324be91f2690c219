// Where a trade or bar column came from (the hello's dataset.columnSources): the trade detail says
// "derived from 5-minute bars" next to a value preparation computed, so a derived MAE is never
// mistaken for the backtester's own.
import type { DatasetSchema } from './worker/types.js';

/** The bar interval in words: "5-minute", "1-hour", "daily". */
export function barInterval(barMs: number): string {
  if (barMs >= 86_400_000) return 'daily';
  if (barMs >= 3_600_000 && barMs % 3_600_000 === 0) return `${barMs / 3_600_000}-hour`;
  if (barMs >= 60_000) return `${Math.round(barMs / 60_000)}-minute`;
  return `${Math.round(barMs / 1000)}-second`;
}

/** "derived from 5-minute bars" for a derived column, "not in the input" for an absent one; null when read. */
export function columnSourceNote(dataset: DatasetSchema, table: 'bars' | 'trades', column: string): string | null {
  const source = dataset.columnSources.find((s) => s.table === table && s.column === column);
  if (!source || source.source === 'input') return null;
  if (source.source === 'absent') return 'not in the input';
  const bars = `${barInterval(dataset.calendar.barMs)} bars`;
  if (source.note === 'bars') return `derived from ${bars}`;
  if (source.note === 'bar fees') return `derived from the fees of ${bars}`;
  return `derived: ${source.note ?? 'at preparation'}`;
}
