// The return statistics of daily returns that the summary and the risk query share, as empyrical
// (and, for the probabilistic Sharpe ratio, Bailey & López de Prado 2012) define them; formulas
// and sources in docs/metrics.md. Pure functions over arrays: NaN where a statistic is undefined
// (too few days, zero variance, no capital), which the encoder sends as null.

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
