// The readers of frames Python saves (server/prepare/pandas-files/python-pickle.ts, pandas-pickle.ts,
// pandas-hdf.ts), against what pandas itself writes: fixtures/formats/pandas-files holds frames
// pickled and stored in HDF5 by pandas 2.2.3 (numpy 1.26) and 3.0.6 (numpy 2.4) with each frame's
// to_csv beside them (make-pandas-files.py), and the CSV written from a pickle or a store must be
// that CSV.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import h5wasm from 'h5wasm/node';
import { repoRoot } from '../../fixtures/generate.js';
import { hdfMembers } from '../../server/prepare/pandas-files/pandas-hdf.js';
import { pickleMembers } from '../../server/prepare/pandas-files/pandas-pickle.js';
import { PickleError, PyCall, PyDict, PyFloat, PyTuple, readPickle } from '../../server/prepare/pandas-files/python-pickle.js';
import { formatTime, npArray, pyFloat, pyRepr } from '../../server/prepare/pandas-files/python-values.js';

const PICKLES = path.join(repoRoot(), 'fixtures', 'formats', 'pandas-files');
const VERSIONS = ['pandas-2.2.3', 'pandas-3.0.6', 'pandas-3.0.6-pyarrow'];

async function csvOf(file: string, name?: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-pickle-unit-'));
  try {
    const members = await (file.endsWith('.h5') ? hdfMembers : pickleMembers)(file, dir);
    const member = name ? members.find((m) => m.member.member === `${name}.csv`) : members[0];
    assert.ok(member, `${file}: a member ${name ?? ''}`);
    return await readFile(member.unpacked, 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

for (const version of VERSIONS) {
  for (const frame of ['zoo', 'returns', 'positions', 'transactions', 'sweep']) {
    test(`${version} ${frame}.pickle is read as its to_csv`, async () => {
      const want = await readFile(path.join(PICKLES, version, `${frame}.csv`), 'utf8');
      assert.equal(await csvOf(path.join(PICKLES, version, `${frame}.pickle`)), want);
    });
  }

  test(`${version} perf.pickle (zipline's frame of Python lists) is read as its to_csv`, async () => {
    // Two reprs are this reader's own: an enum member by its value (zipline's order status, not a
    // field any format reads), and numpy 2's numbers as numbers (to_csv writes np.float64(105.35)).
    const want = (await readFile(path.join(PICKLES, version, 'perf.csv'), 'utf8'))
      .replace(/<ORDER_STATUS\.FILLED: 1>/g, 'ORDER_STATUS(1)')
      .replace(/np\.float64\(([^)]*)\)/g, '$1');
    assert.equal(await csvOf(path.join(PICKLES, version, 'perf.pickle')), want);
  });

  // HDF5: the fixed format (to_hdf's default) and the table format.
  for (const store of ['zoo_h5.h5', 'zoo_h5-table.h5']) {
    test(`${version} ${store} is read as its to_csv`, async () => {
      assert.equal(await csvOf(path.join(PICKLES, version, store)), await readFile(path.join(PICKLES, version, 'zoo_h5.csv'), 'utf8'));
    });
  }

  test(`${version} sectors-table.h5, a categorical column in the table format, is read as its categories`, async () => {
    assert.equal(await csvOf(path.join(PICKLES, version, 'sectors-table.h5')), await readFile(path.join(PICKLES, version, 'sectors.csv'), 'utf8'));
  });

  test(`${version} results.h5, a store of pyfolio's three frames with zipline's assets, is a CSV per key`, async () => {
    for (const frame of ['returns', 'positions', 'transactions']) {
      assert.equal(await csvOf(path.join(PICKLES, version, 'results.h5'), frame), await readFile(path.join(PICKLES, version, `${frame}.csv`), 'utf8'), frame);
    }
  });

  test(`${version} perf.h5, zipline's frame under the key df, is named after its file and read as its to_csv`, async () => {
    const want = (await readFile(path.join(PICKLES, version, 'perf.csv'), 'utf8')).replace(/<ORDER_STATUS\.FILLED: 1>/g, 'ORDER_STATUS(1)').replace(/np\.float64\(([^)]*)\)/g, '$1');
    assert.equal(await csvOf(path.join(PICKLES, version, 'perf.h5'), 'perf'), want);
  });

  test(`${version} a default 0..n-1 index is left out`, async () => {
    const want = (await readFile(path.join(PICKLES, version, 'range_index.csv'), 'utf8')).replace(/^[^,\n]*,/gm, '');
    assert.equal(await csvOf(path.join(PICKLES, version, 'range_index.pickle')), want);
  });
}

test('pandas 3 with pyarrow: ArrowDtype columns of text, floats, integers, timestamps and booleans are read as their to_csv', async () => {
  const dir = path.join(PICKLES, 'pandas-3.0.6-pyarrow');
  assert.equal(await csvOf(path.join(dir, 'arrow_types.pickle')), await readFile(path.join(dir, 'arrow_types.csv'), 'utf8'));
});

// Python's own pickles of plain values, as pickle.dumps wrote them (protocols 0, 2 and 5).
const PROTO0 = '286470300a56610a70310a286c70320a49310a6146322e350a6156780a70330a614e614930310a617356620a70340a2849310a56e90a70350a7470360a732e';
const PROTO2 =
  '80027d71002858010000006171015d7102284b0147400400000000000058010000007871034e886558010000006271044b015802000000c3a97105867106580300000062696771078a0900000000000000004058030000006e656771084afbffffff5801000000667109474024000000000000752e';
const PROTO5 = '80059529000000000000008c0b636f6c6c656374696f6e73948c0b4f726465726564446963749493942952948c0161944b01732e';

test("Python's pickles of plain values: protocol 0's text, protocol 2's ints past 2^53, protocol 5's frames", () => {
  const zero = readPickle(Buffer.from(PROTO0, 'hex')) as PyDict;
  assert.deepEqual([...zero.get('a') as unknown[]], [1, 2.5, 'x', null, true]);
  assert.ok(zero.get('b') instanceof PyTuple);
  assert.deepEqual([...(zero.get('b') as unknown[])], [1, 'é']);
  const two = readPickle(Buffer.from(PROTO2, 'hex')) as PyDict;
  assert.equal(two.get('big'), 2n ** 70n);
  assert.equal(two.get('neg'), -5);
  assert.ok(two.get('f') instanceof PyFloat, '10.0 stays a float');
  assert.equal(pyRepr(two), "{'a': [1, 2.5, 'x', None, True], 'b': (1, 'é'), 'big': 1180591620717411303424, 'neg': -5, 'f': 10.0}");
  const five = readPickle(Buffer.from(PROTO5, 'hex'));
  assert.ok(five instanceof PyCall && five.name === 'collections.OrderedDict' && five.entries.get('a') === 1);
});

test("pandas 0.x's Timestamp in a list (Timestamp.__reduce__ = (Timestamp, (value, freq, tz))) is written as zipline's perf.to_csv writes it", () => {
  // pickle.dumps([{'amount': 10, 'dt': Timestamp(1451917860000000000, None, timezone.utc), 'price': 105.35}], protocol=2),
  // with a stand-in pandas._libs.tslib.Timestamp reducing as pandas 0.22's did.
  const old =
    '80025d71007d7101285806000000616d6f756e7471024b0a5802000000647471036370616e6461732e5f6c6962732e74736c69620a54696d657374616d700a71048a08006858e0993f26144e636461746574696d650a74696d657a6f6e650a7105636461746574696d650a74696d6564656c74610a71064b004b004b0087710752710885710952710a87710b52710c58050000007072696365710d47405a56666666666675612e';
  assert.equal(pyRepr(readPickle(Buffer.from(old, 'hex'))), "[{'amount': 10, 'dt': Timestamp('2016-01-04 14:31:00+0000', tz='UTC'), 'price': 105.35}]");
});

test("a numpy array whose shape its data does not fill is refused, not read over (protocol 2's bytes as _codecs.encode)", () => {
  // pickle.dumps(protocol=2) of a stand-in ndarray reducing as numpy does, claiming 10^12 objects and holding two.
  const claimed =
    '8002636e756d70792e636f72652e6d756c746961727261790a5f7265636f6e7374727563740a7100636e756d70790a6e6461727261790a71014b00857102635f636f646563730a656e636f64650a7103580100000062710458060000006c6174696e317105867106527107877108527109284b018a060010a5d4e80085710a636e756d70790a64747970650a710b58020000004f38710c898887710d52710e284b0358010000007c710f4e4e4e4affffffff4affffffff4b3f74711062895d7111285801000000617112580100000062711365747114622e';
  assert.throws(() => npArray(readPickle(Buffer.from(claimed, 'hex'))), (e: Error) => e.message === 'a numpy array of object claims the shape (1000000000000) but holds 2 values');
});

test('a damaged or foreign file is an error that says where, never a crash or a guess', async () => {
  const good = Buffer.from(PROTO2, 'hex');
  assert.throws(() => readPickle(good.subarray(0, 30)), (e: unknown) => e instanceof PickleError && /ends inside/.test(e.message));
  assert.throws(() => readPickle(Buffer.from([0x80, 0x05, 0xff])), (e: unknown) => e instanceof PickleError && /byte 2 holds 0xff, not a pickle opcode/.test(e.message));
  assert.throws(() => readPickle(Buffer.from('date,pnl\n2020-01-02,1.5\n')), (e: unknown) => e instanceof PickleError && /at byte \d+/.test(e.message));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-pickle-bad-'));
  try {
    const file = path.join(dir, 'params.pkl');
    await writeFile(file, good);
    await assert.rejects(pickleMembers(file, dir), (e: Error) => e.message.includes(`input ${file} cannot be read as a pandas pickle: it holds a dict, not a pandas DataFrame or Series`) && /to_parquet/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an HDF5 file that is not one, or holds no pandas frame, is an error that names it', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-hdf-bad-'));
  try {
    const fake = path.join(dir, 'frames.h5');
    await writeFile(fake, Buffer.from('894844460d0a1a0a', 'hex'));
    await assert.rejects(hdfMembers(fake, dir), (e: Error) => e.message.startsWith(`input ${fake} cannot be read as HDF5: `) && /to_parquet/.test(e.message));
    // HDF5 of something else (h5py's arrays): no group pandas wrote.
    const plain = path.join(dir, 'arrays.h5');
    await h5wasm.ready;
    const file = new h5wasm.File(plain, 'w');
    file.create_dataset({ name: 'pnl', data: new Float64Array([1.5, -2]) });
    file.close();
    await assert.rejects(hdfMembers(plain, dir), (e: Error) => e.message === `input ${plain} is HDF5 but holds no pandas frame (no group with pandas' pandas_type): save each frame with to_parquet or to_csv`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("Python's number and time text: repr's floats, pandas' times in their zone", () => {
  assert.deepEqual([1e-5, 0.0001, 1e16, 123456789012345.6, 10, -0, 0.1 + 0.2, 1.5e300].map(pyFloat), ['1e-05', '0.0001', '1e+16', '123456789012345.6', '10.0', '-0.0', '0.30000000000000004', '1.5e+300']);
  const ns = BigInt(Date.UTC(2020, 2, 9, 13, 30)) * 1_000_000n + 250_000n;
  assert.equal(formatTime({ ns, zone: { kind: 'iana', name: 'America/New_York' } }), '2020-03-09 09:30:00.000250-04:00');
  assert.equal(formatTime({ ns, zone: { kind: 'utc' } }, { compactOffset: true }), '2020-03-09 13:30:00.000250+0000');
  assert.equal(formatTime({ ns: -1n, zone: null }), '1969-12-31 23:59:59.999999999');
});
