// Whether a view is on screen (or about to be): what the views at the bottom of a page ask is
// sent after what the views in sight ask, not before. React runs a child's effects before its
// parent's, so the overview's last cards (time of day, the trade scatter) asked first on every
// zoom and held the session's two DuckDB threads while the charts in sight waited for theirs.
import { useCallback, useState } from 'react';

/** How far outside the viewport a view already counts as on screen: a scroll's worth ahead. */
const AHEAD = '200px';

/**
 * A ref callback for the view's element, and whether that element is within the viewport (or
 * AHEAD of it). False until first observed; true where IntersectionObserver does not exist. The
 * observer goes with the element (a ref callback's cleanup, React 19).
 */
export function useOnScreen<T extends Element>(): [(element: T | null) => (() => void) | undefined, boolean] {
  const supported = typeof IntersectionObserver === 'function';
  const [onScreen, setOnScreen] = useState(!supported);
  const ref = useCallback(
    (element: T | null) => {
      if (!element || !supported) return undefined;
      const observer = new IntersectionObserver((entries) => setOnScreen(entries.some((entry) => entry.isIntersecting)), { rootMargin: AHEAD });
      observer.observe(element);
      return () => observer.disconnect();
    },
    [supported],
  );
  return [ref, onScreen];
}
