// `npm run bench:saved-frames -- FILE...`: what reading a frame Python saved costs, for pickles
// and HDF5 stores (server/prepare/pandas-files/pandas-pickle.ts, pandas-hdf.ts): each FILE written out as the
// CSV of its frames, timed, with the peak RSS of this process, beside the machine's floor for the
// same bytes: DuckDB reading the CSV that was written (what the preparation does with it next).
//
// No such file can be made without Python, so none is generated here. To make a large one (the
// figures in the closing notes came from this frame: pyfolio positions of 3,000 symbols over
// 2,500 days, 60 MB pickled):
//   python -c "import numpy as np, pandas as pd; d = pd.date_range('2015-01-01', periods=2500,
//     freq='B', tz='UTC'); p = pd.DataFrame(np.random.default_rng(1).normal(size=(2500, 3000)) * 1000,
//     index=d, columns=['S%04d' % i for i in range(3000)]); p['cash'] = 1e6;
//     p.to_pickle('positions.pickle'); p.to_hdf('positions.h5', key='positions');
//     p.to_hdf('positions-table.h5', key='positions', format='table')"
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { hdfMembers, isHdf } from '../../server/prepare/pandas-files/pandas-hdf.js';
import { pickleMembers } from '../../server/prepare/pandas-files/pandas-pickle.js';
import { sqlString } from '../../server/sql/text.js';

const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (files.length === 0) {
  console.error('usage: npm run bench:saved-frames -- FILE.pickle|FILE.h5 ... (see the header of test/bench/saved-frames.ts for how to make one)');
  process.exit(2);
}

const work = await mkdtemp(path.join(os.tmpdir(), 'tickscope-bench-saved-frames-'));
const instance = await DuckDBInstance.create(':memory:');
const con = await instance.connect();
try {
  for (const file of files) {
    const { size } = await stat(file);
    const started = performance.now();
    const members = await (isHdf(file) ? hdfMembers : pickleMembers)(path.resolve(file), work);
    const seconds = (performance.now() - started) / 1000;
    for (const { member, unpacked } of members) {
      const written = (await stat(unpacked)).size;
      const floorStart = performance.now();
      const shape = (await con.runAndReadAll(`SELECT count(*), (SELECT count(*) FROM (DESCRIBE SELECT * FROM read_csv(${sqlString(unpacked)}))) FROM read_csv(${sqlString(unpacked)})`)).getRows()[0]!;
      const floor = (performance.now() - floorStart) / 1000;
      const cells = Number(shape[0]) * Number(shape[1]);
      console.log(
        `${file} (${(size / 2 ** 20).toFixed(1)} MiB) -> ${member.member} (${(written / 2 ** 20).toFixed(1)} MiB, ${shape[0]} rows x ${shape[1]} columns): ` +
          `${seconds.toFixed(2)} s (${(cells / seconds / 1e6).toFixed(2)} M cells/s); floor, DuckDB reading that CSV: ${floor.toFixed(2)} s (ratio ${(seconds / floor).toFixed(1)}x)`,
      );
    }
    await rm(work, { recursive: true, force: true });
  }
  console.log(`peak RSS of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
} finally {
  con.closeSync();
  instance.closeSync();
  await rm(work, { recursive: true, force: true });
}
