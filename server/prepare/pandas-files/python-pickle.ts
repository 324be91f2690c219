// Python's pickle format (protocols 0 to 5), read without running anything: a pickle is a program
// for a small stack machine whose calls name Python functions (`module.name`). Here no function is
// called. A call is kept as what it names and its arguments (PyCall), an object made by NEWOBJ as
// its class and arguments, and BUILD's state is kept beside it: pandas-pickle.ts knows which
// calls make a frame. So a pickle of anything reads safely into plain values, and one that is not
// a pandas frame is said to be what it is (describePy).
//
// Values: None -> null, bool, int -> number (bigint past 2^53), float -> number, str -> string,
// bytes and bytearray -> Uint8Array, list and tuple -> PyList / PyTuple (arrays), dict -> PyDict
// (a Map: keys may be numbers or tuples), a float of whole value -> PyFloat, set -> Set, a global -> PyGlobal, a call -> PyCall.
// Opcodes as CPython's Lib/pickle.py and pickletools.py define them.

/** `module.name`, as a pickle names a class or function. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * A call the pickle asks for (REDUCE, NEWOBJ, INST, OBJ): what it calls, its arguments, and what
 * BUILD, APPENDS and SETITEMS then gave the object it would have made.
 */
export class PyCall {
  state: unknown = undefined;
  /** Items appended (a list subclass) and set (a dict subclass: OrderedDict, defaultdict). */
  readonly items: unknown[] = [];
  readonly entries = new Map<unknown, unknown>();
  constructor(
    readonly callee: unknown,
    readonly args: readonly unknown[],
    readonly kwargs: PyDict | null = null,
  ) {}
  /** The qualified name of what is called (a class made by NEWOBJ: the class). */
  get name(): string {
    return this.callee instanceof PyGlobal ? this.callee.qualified : '?';
  }
}

/**
 * A float with a whole value (10.0): kept apart from the int 10, which reads as the same JS
 * number, so that it is written back as Python writes it. Other floats are numbers.
 */
export class PyFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
}

const floatOf = (v: number): number | PyFloat => (Number.isInteger(v) ? new PyFloat(v) : v);

export class PyTuple extends Array<unknown> {}
export class PyList extends Array<unknown> {}
export class PyDict extends Map<unknown, unknown> {}

/** A pickle that cannot be read: truncated, an unknown opcode, or a stack the opcodes do not fit. */
export class PickleError extends Error {}


const tupleOf = (items: unknown[]): PyTuple => {
  const t = new PyTuple();
  t.push(...items);
  return t;
};
const listOf = (items: unknown[]): PyList => {
  const l = new PyList();
  l.push(...items);
  return l;
};

/** An int: a number while exact, else a bigint. */
function intOf(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** A little-endian two's complement integer of `bytes` (LONG1, LONG4). */
function longOf(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(bytes.length * 8);
  return intOf(v);
}

/** Protocol 0's text literals: a decimal int, Python's repr of a str (STRING), raw-unicode-escape (UNICODE). */
function textInt(line: string): number | bigint | boolean {
  if (line === '01') return true;
  if (line === '00') return false;
  return intOf(BigInt(line.replace(/L$/, '')));
}

function unquote(line: string): string {
  const q = line[0];
  if ((q !== "'" && q !== '"') || line[line.length - 1] !== q) throw new PickleError(`a STRING opcode's text is not quoted: ${line.slice(0, 40)}`);
  return line.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e[0] === 'x' || e[0] === 'u') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return ({ n: '\n', t: '\t', r: '\r', '0': '\0' } as Record<string, string>)[e] ?? e;
  });
}

/** Bytes as Latin-1 text (WHATWG's TextDecoder('latin1') is windows-1252). */
const latin1 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

const rawUnicode = (line: string) => line.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, u?: string, U?: string) => String.fromCodePoint(parseInt((u ?? U)!, 16)));

/** Reads a pickle into values (see the header); a length past the file's end is an error, not an allocation. */
export function readPickle(data: Uint8Array): unknown {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const utf8 = new TextDecoder('utf-8');
  let pos = 0;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();

  const need = (n: number, what: string) => {
    if (n < 0 || pos + n > data.length) throw new PickleError(`the pickle ends inside ${what} at byte ${pos} (${n} bytes wanted, ${data.length - pos} left)`);
  };
  const u8 = () => (need(1, 'an argument'), data[pos++]!);
  const u16 = () => (need(2, 'an argument'), (pos += 2), view.getUint16(pos - 2, true));
  const i32 = () => (need(4, 'an argument'), (pos += 4), view.getInt32(pos - 4, true));
  const u32 = () => (need(4, 'an argument'), (pos += 4), view.getUint32(pos - 4, true));
  const u64 = () => {
    need(8, 'an argument');
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new PickleError(`a length of ${v} at byte ${pos - 8} is past what a file holds`);
    return Number(v);
  };
  const bytes = (n: number, what: string) => {
    need(n, what);
    pos += n;
    return data.subarray(pos - n, pos);
  };
  const line = (what: string) => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) throw new PickleError(`the pickle ends inside ${what} at byte ${pos}`);
    const text = latin1(data.subarray(pos, end));
    pos = end + 1;
    return text;
  };
  const pop = () => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) throw new PickleError(`the pickle pops an empty stack at byte ${pos - 1}`);
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) throw new PickleError(`the pickle reads an empty stack at byte ${pos - 1}`);
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const at = marks.pop();
    if (at === undefined) throw new PickleError(`the pickle closes a mark it never opened at byte ${pos - 1}`);
    return stack.splice(at);
  };
  const get = (key: number) => {
    if (!memo.has(key)) throw new PickleError(`the pickle reads memo ${key}, never stored, at byte ${pos - 1}`);
    return memo.get(key);
  };
  const setItems = (target: unknown, kv: unknown[]) => {
    const map = target instanceof Map ? target : target instanceof PyCall ? target.entries : null;
    if (!map) throw new PickleError(`the pickle sets items on a ${describePy(target)} at byte ${pos - 1}`);
    for (let i = 0; i + 1 < kv.length; i += 2) map.set(kv[i], kv[i + 1]);
  };
  const append = (target: unknown, items: unknown[]) => {
    if (Array.isArray(target)) target.push(...items);
    else if (target instanceof PyCall) target.items.push(...items);
    else if (target instanceof Set) for (const i of items) target.add(i);
    else throw new PickleError(`the pickle appends to a ${describePy(target)} at byte ${pos - 1}`);
  };
  const call = (callee: unknown, args: unknown) => {
    if (!Array.isArray(args)) throw new PickleError(`the pickle calls ${describePy(callee)} with ${describePy(args)}, not a tuple, at byte ${pos - 1}`);
    return new PyCall(callee, args);
  };

  for (;;) {
    if (pos >= data.length) throw new PickleError(`the pickle ends at byte ${pos} without its STOP opcode`);
    const op = data[pos++]!;
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw new PickleError(`pickle protocol ${data[pos - 1]} is newer than 5`);
        break;
      case 0x95: // FRAME: a length hint only
        u64();
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        if (marks.length > 0 && stack.length === marks[marks.length - 1]) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(longOf(bytes(u8(), 'a LONG1')));
        break;
      case 0x8b: // LONG4
        stack.push(longOf(bytes(i32(), 'a LONG4')));
        break;
      case 0x49: // INT
        stack.push(textInt(line('an INT')));
        break;
      case 0x4c: // LONG
        stack.push(intOf(BigInt(line('a LONG').replace(/L$/, ''))));
        break;
      case 0x47: // BINFLOAT (big-endian)
        need(8, 'a BINFLOAT');
        stack.push(floatOf(view.getFloat64(pos, false)));
        pos += 8;
        break;
      case 0x46: // FLOAT
        stack.push(floatOf(Number(line('a FLOAT').replace(/^(-?)inf$/, '$1Infinity').replace(/^nan$/, 'NaN'))));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8.decode(bytes(u8(), 'a SHORT_BINUNICODE')));
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8.decode(bytes(u32(), 'a BINUNICODE')));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8.decode(bytes(u64(), 'a BINUNICODE8')));
        break;
      case 0x56: // UNICODE
        stack.push(rawUnicode(line('a UNICODE')));
        break;
      case 0x55: // SHORT_BINSTRING (Python 2's str: bytes, read as Latin-1 text as Python 3 does with encoding='latin1')
        stack.push(latin1(bytes(u8(), 'a SHORT_BINSTRING')));
        break;
      case 0x54: // BINSTRING
        stack.push(latin1(bytes(i32(), 'a BINSTRING')));
        break;
      case 0x53: // STRING
        stack.push(unquote(line('a STRING')));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(bytes(u8(), 'a SHORT_BINBYTES'));
        break;
      case 0x42: // BINBYTES
        stack.push(bytes(u32(), 'a BINBYTES'));
        break;
      case 0x8e: // BINBYTES8
        stack.push(bytes(u64(), 'a BINBYTES8'));
        break;
      case 0x96: // BYTEARRAY8
        stack.push(bytes(u64(), 'a BYTEARRAY8'));
        break;
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        throw new PickleError('the pickle was written with its buffers out of band (protocol 5 with a buffer_callback), and they are not in the file');
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple());
        break;
      case 0x85: // TUPLE1
        stack.push(tupleOf([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push(tupleOf([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(tupleOf([pop(), b, c]));
        break;
      }
      case 0x74: // TUPLE
        stack.push(tupleOf(popMark()));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push(new PyList());
        break;
      case 0x6c: // LIST
        stack.push(listOf(popMark()));
        break;
      case 0x61: {
        // APPEND
        const item = pop();
        append(top(), [item]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x64: {
        // DICT
        const d = new PyDict();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new Set(popMark()));
        break;
      case 0x63: {
        // GLOBAL
        const module = line('a GLOBAL');
        stack.push(new PyGlobal(module, line('a GLOBAL')));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new PickleError(`a STACK_GLOBAL at byte ${pos - 1} names no module and name`);
        stack.push(new PyGlobal(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!Array.isArray(args)) throw new PickleError(`a NEWOBJ_EX at byte ${pos - 1} has no tuple of arguments`);
        stack.push(new PyCall(cls, args, kwargs instanceof PyDict ? kwargs : null));
        break;
      }
      case 0x69: {
        // INST
        const module = line('an INST');
        const cls = new PyGlobal(module, line('an INST'));
        stack.push(new PyCall(cls, popMark()));
        break;
      }
      case 0x6f: {
        // OBJ
        const [cls, ...args] = popMark();
        stack.push(new PyCall(cls, args));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof PyCall) obj.state = state;
        else if (obj instanceof Map && state instanceof Map) for (const [k, v] of state) obj.set(k, v);
        else throw new PickleError(`the pickle builds a ${describePy(obj)} at byte ${pos - 1}`);
        break;
      }
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: // PUT
        memo.set(Number(line('a PUT')), top());
        break;
      case 0x68: // BINGET
        stack.push(get(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(get(u32()));
        break;
      case 0x67: // GET
        stack.push(get(Number(line('a GET'))));
        break;
      case 0x50: // PERSID
      case 0x51: // BINPERSID
        throw new PickleError('the pickle refers to objects kept outside it (persistent ids), which only the program that wrote it can supply');
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        throw new PickleError('the pickle uses the copyreg extension registry, which only the program that wrote it knows');
      default:
        throw new PickleError(`byte ${pos - 1} holds 0x${op.toString(16).padStart(2, '0')}, not a pickle opcode: the file is not a pickle, or is damaged`);
    }
  }
}

/** What a value is, in Python's words, for messages: `a dict`, `a pandas.core.frame.DataFrame`. */
export function describePy(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v instanceof PyCall) return `a ${v.name}`;
  if (v instanceof PyFloat) return 'a float';
  if (v instanceof PyGlobal) return `the global ${v.qualified}`;
  if (v instanceof PyTuple) return 'a tuple';
  if (v instanceof PyList || Array.isArray(v)) return 'a list';
  if (v instanceof Map) return 'a dict';
  if (v instanceof Set) return 'a set';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'string') return 'a str';
  if (typeof v === 'boolean') return 'a bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an int' : 'a float';
  if (typeof v === 'bigint') return 'an int';
  return 'a value';
}
