// What the values a pickle holds (python-pickle.ts) are: numpy arrays, dtypes and scalars, pandas'
// and Python's times and time zones, and each value as text the way Python writes it: str() for a
// cell of to_csv, repr() inside a list or dict (so a zipline transaction list reads as
// `[{'amount': 10, 'dt': Timestamp('2016-01-04 14:31:00+0000', tz='UTC'), ...}]`, as perf.to_csv
// writes it). Only what pandas frames of backtests hold is known; anything else is its class and
// arguments.
import { PyCall, PyFloat, PyGlobal, PyTuple, describePy } from './python-pickle.js';

/** A numpy dtype: its kind (f i u b M m O U S), item size in bytes, byte order, and for M8/m8 the unit. */
export interface NpDtype {
  kind: string;
  size: number;
  littleEndian: boolean;
  unit: TimeUnit | null;
  /** As numpy spells it: f8, i8, M8[ns], O. */
  name: string;
}

/** A numpy array: values as bytes (or Python values for dtype object), its shape, and C or Fortran order. */
export interface NpArray {
  dtype: NpDtype;
  shape: number[];
  fortran: boolean;
  bytes: Uint8Array | null;
  objects: readonly unknown[] | null;
  /** Over `bytes`, made once: a view per element cost half the time of writing a large frame out. */
  view: DataView | null;
}

const viewOf = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

export type TimeUnit = 's' | 'ms' | 'us' | 'ns' | 'D' | 'm' | 'h';
/** Nanoseconds per unit of numpy's, pandas' and Arrow's times. */
const UNIT_NS: Record<TimeUnit, bigint> = { ns: 1n, us: 1_000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n, D: 86_400_000_000_000n };
/** numpy's NPY_DATETIMEUNIT codes, as pandas' _unpickle_timestamp passes a Timestamp's resolution. */
const RESO_UNITS: Record<number, TimeUnit> = { 4: 'D', 5: 'h', 6: 'm', 7: 's', 8: 'ms', 9: 'us', 10: 'ns' };

export type Zone = { kind: 'utc' } | { kind: 'fixed'; minutes: number } | { kind: 'iana'; name: string };

/** An instant (nanoseconds since the epoch, UTC) and its zone; a naive time has none. */
export interface PyTime {
  ns: bigint;
  zone: Zone | null;
}

/** The value numpy and pandas write for a missing time (NaT): int64's smallest. */
export const NAT = -(2n ** 63n);

export class PyValueError extends Error {}

const callName = (v: unknown): string | null => {
  if (!(v instanceof PyCall)) return null;
  // zoneinfo pickles as getattr(ZoneInfo, '_unpickle')(key, 1).
  if (v.callee instanceof PyCall && v.callee.name === 'builtins.getattr') {
    const [owner, attr] = v.callee.args;
    if (owner instanceof PyGlobal && typeof attr === 'string') return `${owner.qualified}.${attr}`;
  }
  return v.name;
};

/** numpy moved its modules from numpy.core to numpy._core in 2.0; pickles name either. */
const numpyName = (v: unknown): string | null => callName(v)?.replace(/^numpy\._core\./, 'numpy.core.') ?? null;

export function isNpDtype(v: unknown): boolean {
  return numpyName(v) === 'numpy.dtype';
}

/** A numpy.dtype(...) call with its BUILD state (byte order; for times the unit in its metadata). */
export function npDtype(v: unknown): NpDtype {
  if (!(v instanceof PyCall) || !isNpDtype(v)) throw new PyValueError(`expected a numpy dtype, found ${describePy(v)}`);
  const spec = String(v.args[0]);
  const m = /^([a-zA-Z])(\d*)$/.exec(spec);
  if (!m) throw new PyValueError(`numpy dtype '${spec}' is not one a frame of numbers, times or text holds`);
  const kind = m[1]!;
  const size = m[2] ? Number(m[2]) : 0;
  const state = Array.isArray(v.state) ? v.state : [];
  const order = typeof state[1] === 'string' ? state[1] : '<';
  let unit: TimeUnit | null = null;
  if (kind === 'M' || kind === 'm') {
    // The metadata (state[8]) holds (b'ns', 1, 1, 1), beside a dict or None.
    const meta = Array.isArray(state[8]) ? state[8] : [];
    const units = meta.find((x): x is unknown[] => Array.isArray(x) && x[0] instanceof Uint8Array);
    const text = units ? Buffer.from(units[0] as Uint8Array).toString('latin1') : 'ns';
    if (nanosPerUnit(text) === undefined) throw new PyValueError(`numpy time unit '${text}' is not one of s, ms, us, ns`);
    unit = text as TimeUnit;
    if (units && Number(units[1]) !== 1) throw new PyValueError(`numpy time unit of ${units[1]}${text} (a multiple) is not read`);
  }
  const name = kind === 'O' ? 'object' : unit ? `${kind}8[${unit}]` : `${kind}${size}`;
  return { kind, size: kind === 'O' ? 8 : size, littleEndian: order !== '>', unit, name };
}

/**
 * Bytes as pickles hold them: bytes; Python 2's str (read as Latin-1 text); protocol 2's bytes
 * from Python 3, pickled as the call _codecs.encode(text, 'latin1'). Null for anything else.
 */
export function bytesOf(v: unknown): Uint8Array | null {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return Buffer.from(v, 'latin1');
  if (v instanceof PyCall && v.name === '_codecs.encode' && typeof v.args[0] === 'string') return Buffer.from(v.args[0], v.args[1] === 'latin1' || v.args[1] === 'latin-1' ? 'latin1' : 'utf8');
  return null;
}

/** Whether a value is a numpy array as pickles make one (_reconstruct + BUILD, or _frombuffer). */
export function isNpArray(v: unknown): boolean {
  const name = numpyName(v);
  return name === 'numpy.core.multiarray._reconstruct' || name === 'numpy.core.numeric._frombuffer';
}

const dims = (v: unknown): number[] => (Array.isArray(v) ? v.map(Number) : [Number(v)]);

export function npArray(v: unknown): NpArray {
  if (!(v instanceof PyCall) || !isNpArray(v)) throw new PyValueError(`expected a numpy array, found ${describePy(v)}`);
  if (numpyName(v) === 'numpy.core.numeric._frombuffer') {
    const [buffer, dtype, shape, order] = v.args;
    if (!(buffer instanceof Uint8Array)) throw new PyValueError('a numpy array from a buffer holds no bytes');
    return checked({ dtype: npDtype(dtype), shape: dims(shape), fortran: order === 'F', bytes: buffer, objects: null, view: viewOf(buffer) });
  }
  // ndarray.__reduce__: _reconstruct(ndarray, (0,), b'b'), then __setstate__((version, shape, dtype, is_fortran, data)).
  const state = v.state;
  if (!Array.isArray(state) || state.length < 5) throw new PyValueError('a numpy array has no state (shape, dtype, data)');
  const [, shape, dtype, fortran, data] = state;
  const type = npDtype(dtype);
  if (type.kind === 'O') {
    if (!Array.isArray(data)) throw new PyValueError('a numpy array of objects holds no list of them');
    return checked({ dtype: type, shape: dims(shape), fortran: fortran === true, bytes: null, objects: data, view: null });
  }
  const bytes = bytesOf(data);
  if (!bytes) throw new PyValueError(`a numpy array of ${type.name} holds no bytes`);
  return checked({ dtype: type, shape: dims(shape), fortran: fortran === true, bytes, objects: null, view: viewOf(bytes) });
}

/** An array whose shape its data fills: a damaged shape must not send a reader over 10^12 rows. */
function checked(a: NpArray): NpArray {
  const n = a.shape.reduce((p, d) => p * d, 1);
  const held = a.objects ? a.objects.length : Math.floor(a.bytes!.length / Math.max(1, a.dtype.size));
  if (!a.shape.every((d) => Number.isInteger(d) && d >= 0) || n !== held) {
    throw new PyValueError(`a numpy array of ${a.dtype.name} claims the shape (${a.shape.join(', ')}) but holds ${held} values`);
  }
  return a;
}

/**
 * Element `i` (in C order over the array's shape; row `r` of line `j` of a 2-D block is
 * j * n + r) as a JS value: number (bigint for an int64 past 2^53), boolean, string, PyTime for
 * a datetime64, bigint nanoseconds for a timedelta64, or the Python value of an object array.
 */
export function npItem(a: NpArray, i: number): unknown {
  // numpy pickles an array of objects as a list in C order whatever its layout; bytes as laid out.
  if (a.objects) return a.objects[i];
  const at = a.fortran && a.shape.length === 2 ? (i % a.shape[1]!) * a.shape[0]! + Math.floor(i / a.shape[1]!) : i;
  return decodeScalar(a.dtype, a.bytes!, at * a.dtype.size, a.view!);
}

function decodeScalar(t: NpDtype, bytes: Uint8Array, offset: number, view = viewOf(bytes)): unknown {
  if (offset + t.size > bytes.length) throw new PyValueError(`a numpy array of ${t.name} holds fewer bytes than its shape says`);
  const le = t.littleEndian;
  switch (t.kind) {
    case 'f':
    case 'i':
    case 'u':
      return readNumber(view, offset, t.kind, t.size, le);
    case 'b':
      return view.getUint8(offset) !== 0;
    case 'M': {
      const v = view.getBigInt64(offset, le);
      return v === NAT ? null : ({ ns: v * UNIT_NS[t.unit!], zone: null } satisfies PyTime);
    }
    case 'm': {
      const v = view.getBigInt64(offset, le);
      return v === NAT ? null : v * UNIT_NS[t.unit!];
    }
  }
  if (t.kind === 'U') return decodeUcs4(bytes.subarray(offset, offset + t.size), le);
  if (t.kind === 'S') return Buffer.from(bytes.subarray(offset, offset + t.size)).toString('latin1').replace(/\0+$/, '');
  throw new PyValueError(`numpy dtype ${t.name} is not read`);
}

/** An integer as a number while it is exact, else a bigint. */
export const exactInt = (v: bigint): number | bigint => (v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v);

/** Nanoseconds per unit of a time (`ns`, `us`, `ms`, `s`, ...), undefined for one not known. */
export const nanosPerUnit = (unit: string): bigint | undefined => (Object.hasOwn(UNIT_NS, unit) ? UNIT_NS[unit as TimeUnit] : undefined);

/**
 * A number of `size` bytes at `at`, as numpy, HDF5 and Arrow lay them out: kind 'i' a signed
 * integer, 'u' an unsigned one, 'f' a float (2, 4 or 8 bytes); 64-bit integers past 2^53 as bigints.
 */
export function readNumber(view: DataView, at: number, kind: string, size: number, littleEndian: boolean): number | bigint {
  if (kind === 'f') return size === 8 ? view.getFloat64(at, littleEndian) : size === 4 ? view.getFloat32(at, littleEndian) : halfFloat(view.getUint16(at, littleEndian));
  const signed = kind === 'i';
  switch (size) {
    case 8:
      return exactInt(signed ? view.getBigInt64(at, littleEndian) : view.getBigUint64(at, littleEndian));
    case 4:
      return signed ? view.getInt32(at, littleEndian) : view.getUint32(at, littleEndian);
    case 2:
      return signed ? view.getInt16(at, littleEndian) : view.getUint16(at, littleEndian);
    default:
      return signed ? view.getInt8(at) : view.getUint8(at);
  }
}

function halfFloat(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function decodeUcs4(b: Uint8Array, le: boolean): string {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let s = '';
  for (let i = 0; i + 4 <= b.length; i += 4) {
    const c = view.getUint32(i, le);
    if (c === 0) break;
    s += String.fromCodePoint(c);
  }
  return s;
}

/** A time zone object as pickles hold one (datetime.timezone, pytz, zoneinfo, dateutil), or a zone name. */
export function zoneOf(v: unknown): Zone | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v === 'UTC' ? { kind: 'utc' } : { kind: 'iana', name: v };
  const name = callName(v);
  const call = v as PyCall;
  switch (name) {
    case 'datetime.timezone': {
      const minutes = timedeltaNs(call.args[0]) / 60_000_000_000n;
      return minutes === 0n ? { kind: 'utc' } : { kind: 'fixed', minutes: Number(minutes) };
    }
    case 'pytz._UTC':
    case 'dateutil.tz.tz.tzutc':
      return { kind: 'utc' };
    case 'pytz._p':
    case 'zoneinfo.ZoneInfo._unpickle':
      return typeof call.args[0] === 'string' ? zoneOf(call.args[0]) : null;
    case 'pytz.timezone':
      return typeof call.args[0] === 'string' ? zoneOf(call.args[0]) : null;
  }
  if (name === 'dateutil.tz.tz.tzfile' && call.state instanceof Map) {
    const file = call.state.get('_filename');
    if (typeof file === 'string') return zoneOf(file.replace(/^.*zoneinfo\//, ''));
  }
  throw new PyValueError(`time zone ${name ?? describePy(v)} is not one read (datetime.timezone, pytz, zoneinfo and dateutil's UTC are)`);
}

/** datetime.timedelta(days, seconds, microseconds) in nanoseconds. */
function timedeltaNs(v: unknown): bigint {
  if (!(v instanceof PyCall) || v.name !== 'datetime.timedelta') throw new PyValueError(`expected a timedelta, found ${describePy(v)}`);
  const [days, seconds, micros] = v.args.map((x) => BigInt(Math.trunc(Number(x ?? 0))));
  return ((days ?? 0n) * 86_400n + (seconds ?? 0n)) * 1_000_000_000n + (micros ?? 0n) * 1_000n;
}

/** The offset of `zone` from UTC at an instant, in minutes. */
const zoneFormats = new Map<string, Intl.DateTimeFormat>();
const offsetCache = new Map<string, number>();
function offsetMinutes(zone: Zone, ms: number): number {
  if (zone.kind === 'utc') return 0;
  if (zone.kind === 'fixed') return zone.minutes;
  // Offsets change on the hour in every zone in use: one look-up per zone and hour.
  const key = `${zone.name}@${Math.floor(ms / 3_600_000)}`;
  const cached = offsetCache.get(key);
  if (cached !== undefined) return cached;
  let format = zoneFormats.get(zone.name);
  if (!format) {
    try {
      format = new Intl.DateTimeFormat('en-US', { timeZone: zone.name, timeZoneName: 'longOffset' });
    } catch {
      throw new PyValueError(`time zone '${zone.name}' is not one this machine knows`);
    }
    zoneFormats.set(zone.name, format);
  }
  const text = format.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(text);
  const minutes = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
  if (offsetCache.size > 100_000) offsetCache.clear();
  offsetCache.set(key, minutes);
  return minutes;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * A time as pandas writes it (Timestamp's str, to_csv): `2016-01-04 14:31:00` and its fraction to
 * the ms, us or ns it needs, in the zone's wall clock with its offset (`+00:00`, or `+0000` for
 * repr); `dateOnly` (a column of midnights, naive) as `2016-01-04`.
 */
export function formatTime(t: PyTime, options: { dateOnly?: boolean; compactOffset?: boolean; fraction?: number } = {}): string {
  const msFloor = t.ns >= 0n ? t.ns / 1_000_000n : -((-t.ns + 999_999n) / 1_000_000n);
  const subMs = Number(t.ns - msFloor * 1_000_000n);
  const offset = t.zone ? offsetMinutes(t.zone, Number(msFloor)) : 0;
  const d = new Date(Number(msFloor) + offset * 60_000);
  const date = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  if (options.dateOnly) return date;
  const nanos = d.getUTCMilliseconds() * 1_000_000 + subMs;
  const digits = Math.max(options.fraction ?? 0, fractionDigits(t));
  const fraction = digits === 0 ? '' : `.${pad(nanos, 9).slice(0, digits)}`;
  let text = `${date} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${fraction}`;
  if (t.zone) {
    const a = Math.abs(offset);
    text += `${offset < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}${options.compactOffset ? '' : ':'}${pad(a % 60)}`;
  }
  return text;
}

/** A timedelta (nanoseconds) as pandas writes it: `0 days 00:05:00`, `-1 days +23:59:59.500000`. */
export function formatTimedelta(ns: bigint): string {
  const day = 86_400_000_000_000n;
  const days = ns >= 0n ? ns / day : -((-ns + day - 1n) / day);
  const rest = ns - days * day;
  const secs = Number(rest / 1_000_000_000n);
  const nanos = Number(rest % 1_000_000_000n);
  const fraction = nanos === 0 ? '' : nanos % 1000 === 0 ? `.${pad(nanos / 1000, 6)}` : `.${pad(nanos, 9)}`;
  return `${days} days ${days < 0n ? '+' : ''}${pad(Math.floor(secs / 3600))}:${pad(Math.floor(secs / 60) % 60)}:${pad(secs % 60)}${fraction}`;
}

/** How many fraction digits a time needs: 0, 3, 6 or 9. */
export function fractionDigits(t: PyTime): number {
  const nanos = Number(((t.ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n);
  return nanos === 0 ? 0 : nanos % 1_000_000 === 0 ? 3 : nanos % 1_000 === 0 ? 6 : 9;
}

/** Whether a naive time is midnight (a column of them is written as dates). */
export const isMidnight = (t: PyTime) => t.ns % UNIT_NS.D === 0n;

const zoneName = (z: Zone) => (z.kind === 'utc' ? 'UTC' : z.kind === 'iana' ? z.name : `UTC${z.minutes < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(z.minutes) / 60))}:${pad(Math.abs(z.minutes) % 60)}`);

/** A pandas Timestamp, datetime.datetime or datetime.date pickled as a call, as a time (null otherwise). */
function timeOfCall(v: PyCall): { time: PyTime; kind: 'timestamp' | 'datetime' | 'date' } | null {
  switch (v.name) {
    case 'pandas._libs.tslibs.timestamps._unpickle_timestamp': {
      // (value, freq, tz, reso): value in units of reso (ns before pandas 2).
      const [value, , tz, reso] = v.args;
      const unit = reso === undefined || reso === null ? 'ns' : RESO_UNITS[Number(reso)];
      if (!unit) throw new PyValueError(`a Timestamp of resolution ${String(reso)} is not read`);
      return { time: { ns: BigInt(value as number | bigint) * UNIT_NS[unit], zone: zoneOf(tz) }, kind: 'timestamp' };
    }
    case 'pandas._libs.tslibs.timestamps.Timestamp':
    case 'pandas._libs.tslib.Timestamp':
    case 'pandas.tslib.Timestamp': {
      // pandas before _unpickle_timestamp: Timestamp.__reduce__ is (Timestamp, (value_ns, freq, tzinfo)).
      const [value, , tz] = v.args;
      if (typeof value !== 'number' && typeof value !== 'bigint') return null;
      return { time: { ns: BigInt(value), zone: zoneOf(tz ?? null) }, kind: 'timestamp' };
    }
    case 'datetime.datetime':
    case 'datetime.date': {
      // Python 2 pickled the bytes as a str, read as Latin-1 text.
      const b = bytesOf(v.args[0]);
      if (!(b instanceof Uint8Array)) return null;
      const year = (b[0]! << 8) | b[1]!;
      const date = Date.UTC(year, b[2]! - 1, b[3]!);
      if (v.name === 'datetime.date') return { time: { ns: BigInt(date) * 1_000_000n, zone: null }, kind: 'date' };
      const micros = (b[7]! << 16) | (b[8]! << 8) | b[9]!;
      const ms = date + ((b[4]! * 60 + b[5]!) * 60 + b[6]!) * 1000;
      return { time: { ns: BigInt(ms) * 1_000_000n + BigInt(micros) * 1_000n, zone: zoneOf(v.args[1] ?? null) }, kind: 'datetime' };
    }
  }
  return null;
}

/** A numpy scalar (numpy.core.multiarray.scalar(dtype, bytes)) as its value (a float of whole value as a PyFloat). */
function scalarOf(v: PyCall): unknown {
  const [dtype, data] = v.args;
  const bytes = bytesOf(data);
  if (!bytes) throw new PyValueError('a numpy scalar holds no bytes');
  const type = npDtype(dtype);
  const value = decodeScalar(type, bytes, 0);
  return type.kind === 'f' && typeof value === 'number' && Number.isInteger(value) ? new PyFloat(value) : value;
}

/** A Python float as repr() writes it: the shortest digits that read back, `1e-05`, `10.0`, `1e+16`. */
export function pyFloat(v: number): string {
  // Where both write fixed notation, JS's shortest digits are Python's; only 10.0 differs.
  const abs = Math.abs(v);
  if (abs >= 1e-4 && abs < 1e16) return Number.isInteger(v) ? `${v}.0` : String(v);
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const [mantissa, e] = v.toExponential().split('e') as [string, string];
  const exp = Number(e);
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  if (exp < -4 || exp >= 16) return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${exp < 0 ? '-' : '+'}${pad(Math.abs(exp))}`;
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  return `${sign}${digits.slice(0, exp + 1).padEnd(exp + 1, '0')}.${digits.slice(exp + 1) || '0'}`;
}

/** A float32 as numpy writes it: the shortest digits that read back as the same float32. */
export function npFloat32(v: number): string {
  if (!Number.isFinite(v) || v === 0) return pyFloat(v);
  for (let p = 1; p <= 9; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return pyFloat(s);
  }
  return pyFloat(v);
}

/** A Python str as repr() writes it. */
function pyStr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\' || ch === q) out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + q;
}

/**
 * A zipline asset as its repr, `Equity(24 [AAPL])`: zipline pickles one as its class and
 * (sid, exchange_info, symbol, ...); zipline 1.x's older assets as (sid, symbol, ...).
 */
function ziplineAsset(v: PyCall): string | null {
  if (!(v.callee instanceof PyGlobal) || !v.callee.module.startsWith('zipline.assets')) return null;
  const [sid, second, third] = v.args;
  const symbol = typeof second === 'string' ? second : typeof third === 'string' ? third : '';
  return symbol ? `${v.callee.name}(${String(sid)} [${symbol}])` : `${v.callee.name}(${String(sid)})`;
}

/** repr() of a value (inside a list, a tuple or a dict). */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (v instanceof PyFloat) return pyFloat(v.value);
  if (typeof v === 'number') return Number.isInteger(v) && !Object.is(v, -0) && Math.abs(v) < 2 ** 53 ? String(v) : pyFloat(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return pyStr(v);
  if (v instanceof Uint8Array) return `b${pyStr(Buffer.from(v).toString('latin1'))}`;
  if (v instanceof PyTuple) return v.length === 1 ? `(${pyRepr(v[0])},)` : `(${v.map(pyRepr).join(', ')})`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
  if (v instanceof Set) return v.size === 0 ? 'set()' : `{${[...v].map(pyRepr).join(', ')}}`;
  if (v instanceof PyGlobal) return `<class '${v.qualified}'>`;
  if (v instanceof PyCall) return callRepr(v);
  if (isTime(v)) return `Timestamp('${formatTime(v, { compactOffset: true })}'${v.zone ? `, tz='${zoneName(v.zone)}'` : ''})`;
  return String(v);
}

export const isTime = (v: unknown): v is PyTime => typeof v === 'object' && v !== null && 'ns' in v && typeof (v as PyTime).ns === 'bigint';


function callRepr(v: PyCall): string {
  const time = timeOfCall(v);
  if (time) {
    if (time.kind === 'timestamp') return pyRepr(time.time);
    return time.kind === 'date' ? `datetime.date(${formatTime(time.time, { dateOnly: true }).split('-').map(Number).join(', ')})` : `datetime.datetime(${formatTime(time.time)})`;
  }
  const name = numpyName(v);
  if (name === 'numpy.core.multiarray.scalar') return pyRepr(scalarOf(v));
  if (v.name === 'decimal.Decimal') return `Decimal(${pyStr(String(v.args[0]))})`;
  if (v.name === 'collections.OrderedDict' || v.name === 'collections.defaultdict') return pyRepr(v.entries);
  const asset = ziplineAsset(v);
  if (asset) return asset;
  const short = v.callee instanceof PyGlobal ? v.callee.name : (callName(v) ?? '?');
  return `${short}(${v.args.map(pyRepr).join(', ')})`;
}

/** str() of a value: a cell as to_csv writes one (strings as they are, times as their str, None as nothing). */
export function pyCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isNaN(v) ? '' : pyRepr(v);
  if (v instanceof PyFloat) return pyFloat(v.value);
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (isTime(v)) return formatTime(v);
  if (v instanceof PyCall) {
    const time = timeOfCall(v);
    if (time) return time.kind === 'date' ? formatTime(time.time, { dateOnly: true }) : formatTime(time.time);
    if (numpyName(v) === 'numpy.core.multiarray.scalar') return pyCell(scalarOf(v));
    if (v.name === 'decimal.Decimal') return String(v.args[0]);
    // pandas' missing values: NA, NaT.
    if (v.name === 'pandas._libs.missing.NAType' || v.name === 'pandas._libs.tslibs.nattype.__nat_unpickle') return '';
  }
  return pyRepr(v);
}
