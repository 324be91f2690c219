// The return statistics of daily returns that the summary, the risk query and the leaderboard
// share, as empyrical (and, for the probabilistic and deflated Sharpe ratios, Bailey & López de
// Prado 2012 and 2014) define them; formulas and sources in docs/metrics.md. Pure functions over
// arrays: NaN where a statistic is undefined (too few days, zero variance, no capital), which the
// encoder sends as null.

export const ANNUALIZATION = 252;

/** The daily rate compounding to the annual risk-free rate `annual` over 252 days (QuantStats' to_excess_returns). */
export function dailyRiskFree(annual: number): number {
  return (1 + annual) ** (1 / ANNUALIZATION) - 1;
}

function mean(xs: ArrayLike<number>): number {
  if (xs.length === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s / xs.length;
}

/** Sample standard deviation (ddof 1), NaN under two values. */
export function sampleSd(xs: ArrayLike<number>): number {
  if (xs.length < 2) return Number.NaN;
  const m = mean(xs);
  let sq = 0;
  for (let i = 0; i < xs.length; i++) sq += (xs[i]! - m) ** 2;
  return Math.sqrt(sq / (xs.length - 1));
}

const ratio = (a: number, b: number) => (b === 0 || Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : a / b);

/** Daily Sharpe ratio in excess of the daily risk-free rate (empyrical sharpe_ratio, not annualised). */
export function dailySharpe(returns: ArrayLike<number>, rfDaily: number): number {
  return ratio(mean(returns) - rfDaily, sampleSd(returns));
}

/** Annualised Sharpe ratio (empyrical sharpe_ratio). */
export function sharpe(returns: ArrayLike<number>, rfDaily: number): number {
  return dailySharpe(returns, rfDaily) * Math.sqrt(ANNUALIZATION);
}

/** Annualised Sortino ratio with the risk-free rate as required return (empyrical sortino_ratio). */
export function sortino(returns: ArrayLike<number>, rfDaily: number): number {
  const n = returns.length;
  if (n === 0) return Number.NaN;
  let sumAdj = 0;
  let sumDown = 0;
  for (let i = 0; i < n; i++) {
    const adj = returns[i]! - rfDaily;
    sumAdj += adj;
    sumDown += Math.min(adj, 0) ** 2;
  }
  return ratio((sumAdj / n) * ANNUALIZATION, Math.sqrt(sumDown / n) * Math.sqrt(ANNUALIZATION));
}

/** Skewness and (non-excess) kurtosis from population central moments, as in Bailey & López de Prado. */
export function moments(returns: ArrayLike<number>): { skew: number; kurtosis: number } {
  const n = returns.length;
  if (n < 2) return { skew: Number.NaN, kurtosis: Number.NaN };
  const m = mean(returns);
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = returns[i]! - m;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  return { skew: ratio(m3, m2 ** 1.5), kurtosis: ratio(m4, m2 * m2) };
}

/**
 * Probabilistic Sharpe ratio (Bailey & López de Prado 2012, eq. 11): the probability that the true
 * daily Sharpe ratio exceeds `benchmarkSharpe`, given n days with the sample's skew and kurtosis.
 */
export function probabilisticSharpe(returns: ArrayLike<number>, rfDaily: number, benchmarkSharpe = 0): number {
  const n = returns.length;
  const sr = dailySharpe(returns, rfDaily);
  const { skew, kurtosis } = moments(returns);
  const variance = 1 - skew * sr + ((kurtosis - 1) / 4) * sr * sr;
  if (n < 2 || !Number.isFinite(sr) || !(variance > 0)) return Number.NaN;
  return normalCdf(((sr - benchmarkSharpe) * Math.sqrt(n - 1)) / Math.sqrt(variance));
}

/** The Euler-Mascheroni constant, in the expected maximum of Gaussian trials (Bailey & López de Prado 2014). */
const EULER_MASCHERONI = 0.5772156649015329;

/**
 * SR0 of the deflated Sharpe ratio (Bailey & López de Prado 2014, eq. 2, "The Deflated Sharpe
 * Ratio"): the largest daily Sharpe ratio expected of `trials` independent trials whose Sharpe
 * ratios have variance `variance` and true value 0. With one trial nothing is deflated: 0.
 */
export function expectedMaxSharpe(trials: number, variance: number): number {
  if (trials <= 1) return 0;
  const g = EULER_MASCHERONI;
  return Math.sqrt(variance) * ((1 - g) * normalQuantile(1 - 1 / trials) + g * normalQuantile(1 - 1 / (trials * Math.E)));
}

/**
 * Deflated Sharpe ratio (Bailey & López de Prado 2014, eq. 2): the probabilistic Sharpe ratio of
 * the daily returns against SR0, the best Sharpe ratio expected of `trials` trials whose daily
 * Sharpe ratios have variance `variance`. One trial: the PSR against 0.
 */
export function deflatedSharpe(returns: ArrayLike<number>, rfDaily: number, trials: number, variance: number): number {
  const sr0 = expectedMaxSharpe(trials, variance);
  return Number.isNaN(sr0) ? Number.NaN : probabilisticSharpe(returns, rfDaily, sr0);
}

/** Sample variance (ddof 1) of the finite values, NaN under two of them. */
export function finiteVariance(xs: ArrayLike<number>): number {
  const finite: number[] = [];
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i]!)) finite.push(xs[i]!);
  const sd = sampleSd(finite);
  return sd * sd;
}

/**
 * The standard normal quantile function (inverse of normalCdf): P. J. Acklam's rational
 * approximation (relative error < 1.2e-9), refined by one Halley step on normalCdf to full
 * double precision.
 */
export function normalQuantile(p: number): number {
  if (Number.isNaN(p) || p < 0 || p > 1) return Number.NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  let x: number;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  } else if (p <= 1 - low) {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  const e = normalCdf(x) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/** The standard normal distribution function, through erfc (W. J. Cody's rational approximations, |error| < 1e-14 relative). */
export function normalCdf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  return 0.5 * erfc(-z / Math.SQRT2);
}

function erfc(x: number): number {
  const ax = Math.abs(x);
  let result: number;
  if (ax < 0.5) {
    // erf by its Taylor series: converges fast this close to 0.
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let k = 1; k < 60; k++) {
      term *= -x2 / k;
      const add = term / (2 * k + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc by its continued fraction (Lentz), accurate for |x| >= 0.5.
  const tiny = 1e-300;
  let f = ax;
  let c = ax;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = ax + a * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = ax + a / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  result = Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
  return x >= 0 ? result : 2 - result;
}

/** (prod(1 + r))^(252 / n) - 1: empyrical annual_return (CAGR) of daily returns. */
export function annualReturn(returns: ArrayLike<number>): number {
  const n = returns.length;
  if (n === 0) return Number.NaN;
  let growth = 1;
  for (let i = 0; i < n; i++) growth *= 1 + returns[i]!;
  return growth < 0 ? Number.NaN : growth ** (ANNUALIZATION / n) - 1;
}

export interface Relative {
  alpha: number;
  beta: number;
  correlation: number;
  trackingError: number;
  informationRatio: number;
  activeReturn: number;
  upCapture: number;
  downCapture: number;
  benchmarkReturn: number;
}

/**
 * The benchmark-relative statistics of paired daily returns (the days both have one): empyrical's
 * alpha_beta_aligned (beta from population moments, alpha annualised by compounding), up_capture,
 * down_capture, tracking error and annualised information ratio of the active return r - b, the
 * Pearson correlation, and the active return as the difference of the annual returns.
 */
export function relative(r: ArrayLike<number>, b: ArrayLike<number>, rfDaily: number): Relative {
  const n = r.length;
  const mr = mean(r);
  const mb = mean(b);
  let cov = 0;
  let vb = 0;
  let vr = 0;
  const active = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    cov += (r[i]! - mr) * (b[i]! - mb);
    vb += (b[i]! - mb) ** 2;
    vr += (r[i]! - mr) ** 2;
    active[i] = r[i]! - b[i]!;
  }
  const beta = n < 2 ? Number.NaN : ratio(cov, vb);
  let alphaSum = 0;
  for (let i = 0; i < n; i++) alphaSum += r[i]! - rfDaily - beta * (b[i]! - rfDaily);
  const alphaDaily = n > 0 ? alphaSum / n : Number.NaN;
  const sdActive = sampleSd(active);
  const up: [number[], number[]] = [[], []];
  const down: [number[], number[]] = [[], []];
  for (let i = 0; i < n; i++) {
    if (b[i]! > 0) {
      up[0].push(r[i]!);
      up[1].push(b[i]!);
    } else if (b[i]! < 0) {
      down[0].push(r[i]!);
      down[1].push(b[i]!);
    }
  }
  let growth = 1;
  for (let i = 0; i < n; i++) growth *= 1 + b[i]!;
  return {
    alpha: (1 + alphaDaily) ** ANNUALIZATION - 1,
    beta,
    correlation: n < 2 ? Number.NaN : ratio(cov, Math.sqrt(vr * vb)),
    trackingError: sdActive * Math.sqrt(ANNUALIZATION),
    informationRatio: ratio(mean(active), sdActive) * Math.sqrt(ANNUALIZATION),
    activeReturn: annualReturn(r) - annualReturn(b),
    upCapture: ratio(annualReturn(up[0]), annualReturn(up[1])),
    downCapture: ratio(annualReturn(down[0]), annualReturn(down[1])),
    benchmarkReturn: n > 0 ? growth - 1 : Number.NaN,
  };
}
