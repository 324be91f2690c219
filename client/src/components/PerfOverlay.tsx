// The performance overlay (perf-overlay.ts): the latest answers with their times (ask to answer
// in the worker, and the session's own), the worker's cache counters and the main thread's long
// tasks, refreshed twice a second while shown.
import { useEffect, useState } from 'react';
import { ms } from '../format.js';
import { probe } from '../perf.js';
import { session } from '../session.js';
import type { CacheStats } from '../worker/types.js';

const SHOWN_ANSWERS = 12;

export function PerfOverlay() {
  const [, tick] = useState(0);
  const [stats, setStats] = useState<CacheStats | null>(null);
  useEffect(() => {
    const timer = setInterval(() => {
      tick((n) => n + 1);
      session.cacheStats().then(setStats, () => setStats(null));
    }, 500);
    return () => clearInterval(timer);
  }, []);
  const p = probe();
  const answers = (p.answers ?? []).slice(-SHOWN_ANSWERS).reverse();
  const longTasks = p.longTasks ?? [];
  return (
    <aside className="perf-overlay" data-testid="perf-overlay" aria-label="Performance">
      <header>
        Performance <span className="muted">Shift+P hides</span>
      </header>
      <table>
        <thead>
          <tr>
            <th>query</th>
            <th>answer</th>
            <th>session</th>
          </tr>
        </thead>
        <tbody>
          {answers.map((a, i) => (
            <tr key={`${a.at}-${i}`}>
              <td>{a.query}</td>
              <td>{a.cached ? 'cache' : ms(a.ms)}</td>
              <td>{a.serverMs === null ? '—' : ms(a.serverMs)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <footer>
        {stats ? `cache ${stats.hits} hits · ${stats.misses} misses · ${stats.previews} previews · ${stats.inFlight} in flight · ` : ''}
        {longTasks.length} tasks over 50 ms{longTasks.length ? ` (longest ${ms(Math.max(...longTasks.map((t) => t.duration)))})` : ''}
      </footer>
    </aside>
  );
}
