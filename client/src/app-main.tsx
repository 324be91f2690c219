// The app itself, loaded by main.tsx after the session worker has been created: React, the views
// and their modules are most of the page's code, and evaluating them is a long task that held the
// worker's own start back until it ended (the worker begins fetching its script only when the page
// yields).
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { installProbes, probe } from './perf.js';
import { getRoute } from './route.js';
import { prefetchFirstView, session } from './session.js';
import { equitySpec, requestWidths } from './specs.js';
import './theme.js';
import { App } from './App.js';

installProbes();
probe().cacheStats = () => session.cacheStats();

// The first chart's query goes out the moment the session says hello (or now, if it already has),
// before React has rendered anything: the overview then joins it in flight. (With no runs in the
// URL it is of the runs the tab shows, which on a sweep only the hello's default pin names.)
const route = getRoute();
if (route.level === 'overview') prefetchFirstView([equitySpec(route, requestWidths(window.innerWidth).main)]);

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
