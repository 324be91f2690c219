// The runs added to the served dataset after this tab's session opened its store: the control
// server prepares them as a delta (server/prepare/add-runs.ts) and announces them on the session's
// status stream (GET /api/sessions/:id/status, `runs` events). A reload opens a session on the
// new store (the old one ends as `dataset-grown`), with the URL's range, filters and pins kept.
import { useEffect, useState } from 'react';

export function NewRunsNotice({ sessionId }: { sessionId: string | undefined }) {
  const [runs, setRuns] = useState<string[]>([]);
  useEffect(() => {
    if (!sessionId) return;
    const source = new EventSource(`/api/sessions/${encodeURIComponent(sessionId)}/status`);
    source.addEventListener('runs', (event) => setRuns((JSON.parse((event as MessageEvent<string>).data) as { runs: string[] }).runs));
    // The stream ends with the session; EventSource would otherwise reconnect to replay it.
    source.addEventListener('state', (event) => {
      if ((JSON.parse((event as MessageEvent<string>).data) as { state: string }).state === 'terminated') source.close();
    });
    return () => source.close();
  }, [sessionId]);
  if (runs.length === 0) return null;
  return (
    <div className="banner banner-info" role="status" data-testid="new-runs" title={runs.join(', ')}>
      {runs.length === 1 ? '1 new run' : `${runs.length} new runs`} in this dataset:{' '}
      <button type="button" onClick={() => location.reload()}>
        reload to include {runs.length === 1 ? 'it' : 'them'}
      </button>
    </div>
  );
}
