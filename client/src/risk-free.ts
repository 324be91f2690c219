// The risk-free rate the analyst chose in the overview (annual, a decimal fraction), or none: the
// dataset's own (tickscope.json `riskFreeRate`), which the server applies when a request names
// none. The choice lives in the URL (`rf=`), so a link reproduces the Sharpe it showed; it travels
// in the request's params, so every answer and its cache entry are for the rate they were asked with.
import { getRoute, navigate, type Route } from './route.js';

/** Sets the rate (undefined: back to the dataset's); replaces the history entry, as typing does. */
export function setRiskFreeRate(rate: number | undefined): void {
  const route = getRoute();
  if (rate === route.riskFreeRate) return;
  navigate({ ...route, riskFreeRate: rate }, { replace: true });
}

/** The request params naming the route's rate, if any. */
export function riskFreeParams(route: Route): { riskFreeRate?: number } {
  return route.riskFreeRate === undefined ? {} : { riskFreeRate: route.riskFreeRate };
}
