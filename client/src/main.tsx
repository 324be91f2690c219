// First import: modules run in import order, so the session worker starts (and with it the
// session request, the socket, the hello) before React and the app's modules have run.
import { prefetchFirstView, session } from './session.js';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { installProbes, probe } from './perf.js';
import { getRoute } from './route.js';
import { equitySpec, requestWidths } from './specs.js';
import './theme.js';
import { App } from './App.js';
import './styles.css';

installProbes();
probe().cacheStats = () => session.cacheStats();

// The first chart's query goes out the moment the session says hello, before React has
// rendered anything: the overview then joins it in flight. (With no runs in the URL it is of the
// runs the tab shows, which on a sweep only the hello's default pin names.)
const route = getRoute();
if (route.level === 'overview') prefetchFirstView([equitySpec(route, requestWidths(window.innerWidth).main)]);

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
