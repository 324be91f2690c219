// Arrow arrays as pyarrow pickles them, inside pandas' Arrow-backed columns (pandas 3's text when
// pyarrow is installed, `ArrowDtype`, `string[pyarrow]`): pyarrow.lib._restore_array((type,
// length, null_count, offset, buffers, children, dictionary)), each buffer
// pyarrow.lib.py_buffer(bytes), in Arrow's columnar layout (a validity bitmap, then offsets and
// data, or values); a ChunkedArray as pyarrow.lib.chunked_array(chunks, type). The types a frame
// of a backtest holds are read: text, integers, floats, booleans, timestamps and dates; another
// (a list, a struct, a dictionary) is named.
import type { Vector } from './frame-csv.js';
import { PyCall, describePy } from './python-pickle.js';
import { PyValueError, bytesOf, nanosPerUnit, readNumber, zoneOf, type PyTime } from './python-values.js';

/** An Arrow type as pickled: type_for_alias('large_string'), timestamp('us', 'UTC'), ... */
interface ArrowType {
  name: string;
  unit?: string;
  tz?: string | null;
}

function typeOf(v: unknown): ArrowType {
  if (!(v instanceof PyCall)) throw new PyValueError(`an Arrow array's type is ${describePy(v)}`);
  const [a, b] = v.args;
  switch (v.name) {
    case 'pyarrow.lib.type_for_alias':
      return { name: String(a) };
    case 'pyarrow.lib.timestamp':
      return { name: 'timestamp', unit: String(a), tz: typeof b === 'string' ? b : null };
  }
  throw new PyValueError(`an Arrow array of type ${v.name} is not read`);
}

/** Arrow's number types, by their alias: kind (python-values.ts readNumber) and bytes. */
const NUMBERS: Record<string, readonly ['i' | 'u' | 'f', number]> = {
  int8: ['i', 1],
  int16: ['i', 2],
  int32: ['i', 4],
  int64: ['i', 8],
  uint8: ['u', 1],
  uint16: ['u', 2],
  uint32: ['u', 4],
  uint64: ['u', 8],
  float: ['f', 4],
  float32: ['f', 4],
  double: ['f', 8],
  float64: ['f', 8],
};

/** Whether a value is a pickled pyarrow Array or ChunkedArray. */
export function isArrowArray(v: unknown): boolean {
  return v instanceof PyCall && (v.name === 'pyarrow.lib._restore_array' || v.name === 'pyarrow.lib.chunked_array');
}

/** A pickled pyarrow Array or ChunkedArray as a Vector of JS values (null where not valid). */
export function arrowVector(v: unknown): Vector {
  if (!(v instanceof PyCall)) throw new PyValueError(`expected an Arrow array, found ${describePy(v)}`);
  if (v.name === 'pyarrow.lib.chunked_array') {
    const chunks = Array.isArray(v.args[0]) ? v.args[0].map(arrowVector) : [];
    const starts: number[] = [];
    let length = 0;
    for (const c of chunks) {
      starts.push(length);
      length += c.length;
    }
    const numbers = chunks[0]?.numbers;
    return {
      length,
      at: (r) => {
        let k = chunks.length - 1;
        while (k > 0 && starts[k]! > r) k--;
        return chunks[k]?.at(r - starts[k]!) ?? null;
      },
      ...(numbers ? { numbers } : {}),
    };
  }
  const [state] = v.args;
  if (!Array.isArray(state)) throw new PyValueError('an Arrow array has no state');
  const [typeCall, length, , offset, buffers] = state;
  const type = typeOf(typeCall);
  const n = Number(length);
  const start = Number(offset ?? 0);
  const bufs = Array.isArray(buffers) ? buffers.map((b) => (b instanceof PyCall && b.name === 'pyarrow.lib.py_buffer' ? bytesOf(b.args[0]) : null)) : [];
  const validity = bufs[0] ?? null;
  const valid = (i: number) => validity === null || ((validity[(start + i) >> 3]! >> ((start + i) & 7)) & 1) === 1;
  const viewOf = (k: number) => {
    const b = bufs[k];
    if (!b) throw new PyValueError(`an Arrow array of ${type.name} has no buffer ${k}`);
    return new DataView(b.buffer, b.byteOffset, b.byteLength);
  };
  const fixed = (read: (view: DataView, i: number) => unknown, numbers?: Vector['numbers']): Vector => {
    const view = viewOf(1);
    return { length: n, at: (i) => (valid(i) ? read(view, start + i) : null), ...(numbers ? { numbers } : {}) };
  };
  const number = NUMBERS[type.name];
  if (number) {
    const [kind, size] = number;
    return fixed((d, i) => readNumber(d, i * size, kind, size, true), kind === 'f' ? (size === 4 ? 'float32' : 'float') : undefined);
  }
  switch (type.name) {
    case 'string':
    case 'utf8':
    case 'large_string':
    case 'large_utf8': {
      const large = type.name.startsWith('large');
      const offsets = viewOf(1);
      const data = bufs[2] ?? new Uint8Array(0);
      const decoder = new TextDecoder();
      const at = (i: number) => (large ? Number(offsets.getBigInt64(i * 8, true)) : offsets.getInt32(i * 4, true));
      return { length: n, at: (i) => (valid(i) ? decoder.decode(data.subarray(at(start + i), at(start + i + 1))) : null) };
    }
    case 'bool':
      return { length: n, at: (i) => (valid(i) ? ((bufs[1]![(start + i) >> 3]! >> ((start + i) & 7)) & 1) === 1 : null) };
    case 'date32[day]':
    case 'date32':
      return fixed((d, i) => ({ ns: BigInt(d.getInt32(i * 4, true)) * 86_400_000_000_000n, zone: null }) satisfies PyTime);
    case 'timestamp': {
      const unit = type.unit ?? 'ns';
      const per = /^(s|ms|us|ns)$/.test(unit) ? nanosPerUnit(unit) : undefined;
      if (per === undefined) throw new PyValueError(`Arrow timestamps in ${type.unit} are not read`);
      const zone = type.tz ? zoneOf(type.tz) : null;
      // pandas writes each as the Timestamp it is, with its unit's digits when it has a fraction.
      return { ...fixed((d, i) => ({ ns: d.getBigInt64(i * 8, true) * per, zone }) satisfies PyTime), unitDigits: { s: 0, ms: 3, us: 6, ns: 9 }[unit as 's' | 'ms' | 'us' | 'ns'] };
    }
  }
  throw new PyValueError(`an Arrow array of type ${type.name} is not read (text, integers, floats, booleans, dates and timestamps are)`);
}
