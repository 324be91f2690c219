// A card of a view: a title line (the title, then what stands beside it: a hint, a note on the
// answer) above its content (a chart, a table, a heatmap).
import type { ReactNode } from 'react';

export function Card({ title, aside, children }: { title: ReactNode; aside?: ReactNode; children: ReactNode }) {
  return (
    <section className="card">
      <div className="card-title">
        <h2>{title}</h2>
        {aside}
      </div>
      {children}
    </section>
  );
}
