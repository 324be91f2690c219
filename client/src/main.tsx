// The page's entry: it creates the session worker first (session.ts: the worker asks for the
// session, opens the socket and receives the hello on its own thread), then loads the app in a
// chunk of its own (app-main.tsx). A browser starts a worker only once the page's current task
// ends; with the app in this module, that task was the evaluation of React and every view
// (~120 ms here), and the worker, its session request and the hello all waited for it.
import './session.js';
import './styles.css';

void import('./app-main.js').catch((error: unknown) => {
  const root = document.getElementById('root');
  if (root) root.textContent = `Tickscope could not load: ${error instanceof Error ? error.message : String(error)}`;
  throw error;
});
