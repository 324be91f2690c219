// A card of a view: a title line (the title, then what stands beside it: a hint, a note on the
// answer, a link) above its content (a chart, a table, a heatmap). Other attributes (a ref, a
// test id, a class of its own) go to the card's section.
import type { ComponentPropsWithRef, ReactNode } from 'react';

type CardProps = Omit<ComponentPropsWithRef<'section'>, 'title'> & { title: ReactNode; aside?: ReactNode; children: ReactNode };

export function Card({ title, aside, children, className, ...section }: CardProps) {
  return (
    <section {...section} className={className ? `card ${className}` : 'card'}>
      <div className="card-title">
        <h2>{title}</h2>
        {aside}
      </div>
      {children}
    </section>
  );
}
