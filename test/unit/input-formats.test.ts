import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatByExtension, nameWithoutExtension } from '../../server/prepare/inputs/index.js';

test('a file name says its format; a compressed text file is the text format it names, any other compressed file is none', () => {
  const cases: [string, ReturnType<typeof formatByExtension>][] = [
    ['bars/part-0.parquet', 'parquet'],
    ['trades.feather', 'arrow'],
    ['trades.csv', 'csv'],
    ['TRADES.TSV', 'csv'],
    ['trades.csv.gz', 'csv'],
    ['returns.CSV.GZ', 'csv'],
    ['fills.jsonl.zst', 'json'],
    ['backtest-result-2024-01-16.json.gz', 'json'],
    ['events.ndjson.gz', 'json'],
    // Archives and compressed binary files stay archives (inputs/ names them, does not read them).
    ['results.tar.gz', null],
    ['results.tgz', null],
    ['bars.parquet.gz', null],
    ['notes.txt.gz', null],
    ['trades.gz', null],
    ['trades.zip', null],
  ];
  for (const [name, want] of cases) assert.equal(formatByExtension(name), want, name);
});

test("a file's name without its extensions names a run as the file does: a compressed result is named as the plain one", () => {
  assert.equal(nameWithoutExtension('/r/backtests/1234567890.json'), '1234567890');
  assert.equal(nameWithoutExtension('/r/backtest-result-2024-01-16_10-00-00.json.gz'), 'backtest-result-2024-01-16_10-00-00');
  assert.equal(nameWithoutExtension('/r/My.Algo.v2.json.zst'), 'My.Algo.v2');
  assert.equal(nameWithoutExtension('/r/trades'), 'trades');
});
