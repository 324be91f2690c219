import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { decodeDataFrame, encodeDataFrameHeader } from '../../shared/frame.js';
import { clientMessageValidator as client, serverMessageValidator as server } from '../../shared/messages.js';
import { parseMessage } from '../../shared/validate.js';

test('valid client messages pass', () => {
  assert.ok(parseMessage('{"type":"request","id":1,"query":"equity","params":{"width":800}}', client).ok);
  assert.ok(parseMessage('{"type":"cancel","id":7}', client).ok);
});

test('bad client messages are refused with a reason that names the problem', () => {
  const notJson = parseMessage('{oops', client);
  assert.equal(notJson.ok, false);
  assert.match((notJson as { error: string }).error, /not JSON/);
  for (const [text, pattern] of [
    ['{"type":"request","id":1,"query":"equity","params":{"width":-5}}', /width/],
    ['{"type":"request","id":1,"query":"equity","params":{"width":1e9}}', /width/],
    ['{"type":"request","id":0,"query":"equity","params":{"width":10}}', /id/],
    ['{"type":"request","id":1,"query":"drop table","params":{}}', /\/query is "drop table", expected one of summary, equity, exposure, breakdown, series, trades, histogram, heatmap, rolling, export/],
    ['{"type":"request","id":1,"query":"equity","params":{"width":10,"sql":"x"}}', /sql|additional|params/i],
    // Protocol 4: the worker alone supersedes requests, so a request names no view.
    ['{"type":"request","id":1,"query":"equity","params":{"width":10},"view":"main"}', /\/view/],
    ['{"type":"launch"}', /\/type is "launch"/],
    ['[1,2]', /\/type is missing/],
  ] as const) {
    const checked = parseMessage(text, client);
    assert.equal(checked.ok, false, text);
    assert.match((checked as { error: string }).error, pattern, text);
  }
});

test('a valid example of every query passes; parameters outside their schema do not', () => {
  const valid: [string, Record<string, unknown>][] = [
    ['summary', { runs: ['base'], from: 0, to: 1e12, filters: { sectors: ['Energy'], sides: ['long'], pnl: { min: -5 } } }],
    ['equity', { width: 800 }],
    ['exposure', { width: 800, filters: { symbols: ['S0001'] } }],
    ['breakdown', { by: 'hour', sort: { column: 'win_rate', descending: true }, offset: 10, limit: 50 }],
    ['series', { symbol: 'S0001', width: 1200, maxTrades: 100 }],
    ['trades', { sort: { column: 'holding_ms' }, offset: 1_000_000, limit: 100, filters: { tags: ['q1'], mae: { max: 0 } } }],
    ['histogram', { field: 'daily_return', bins: 50, min: -0.1, max: 0.1 }],
    ['heatmap', {}],
    ['rolling', { window: 63 }],
    ['export', { table: 'bars', limit: 5_000_000 }],
  ];
  for (const [query, params] of valid) {
    const checked = client.check({ type: 'request', id: 9, query, params });
    assert.ok(checked.ok, `${query}: ${checked.ok ? '' : checked.error}`);
  }
  for (const [query, params, pattern] of [
    ['breakdown', { by: 'colour', limit: 5 }, /by/],
    ['breakdown', { by: 'sector', limit: 0 }, /limit/],
    ['trades', { limit: 10_001 }, /limit/],
    ['trades', { limit: 10, sort: { column: 'rk_pnl' } }, /column/],
    ['histogram', { field: 'price', bins: 10 }, /field/],
    ['rolling', { window: 1 }, /window/],
    ['summary', { filters: { sides: ['both'] } }, /sides/],
    ['summary', { filters: { symbols: Array.from({ length: 1001 }, (_, i) => `S${i}`) } }, /symbols/],
    ['summary', { filters: { pnl: { min: 'a lot' } } }, /pnl/],
    ['export', { table: 'meta' }, /table/],
  ] as const) {
    const checked = client.check({ type: 'request', id: 9, query, params });
    assert.equal(checked.ok, false, `${query} ${JSON.stringify(params).slice(0, 60)}`);
    assert.match((checked as { error: string }).error, pattern);
  }
});

test('server messages are validated too', () => {
  assert.ok(server.check({ type: 'progress', id: 3, rows: 10, batches: 1, bytes: 100, elapsedMs: 5 }).ok);
  assert.ok(
    server.check({ type: 'done', id: 3, rows: 1, batches: 1, bytes: 9, approximate: false, timings: { planMs: 1, executeMs: 1, encodeMs: 1 }, total: 7, source: 'trade_list', notes: [] }).ok,
  );
  assert.equal(server.check({ type: 'done', id: 3, rows: 1, batches: 1, bytes: 9, approximate: false, timings: { planMs: 1, executeMs: 1, encodeMs: 1 } }).ok, false);
  assert.ok(server.check({ type: 'error', id: null, code: 'bad-message', message: 'x' }).ok);
  assert.equal(server.check({ type: 'error', id: 1, code: 'nope', message: 'x' }).ok, false);
});

test('data frame header round-trips and the payload is a view, not a copy', () => {
  const header = encodeDataFrameHeader(0xfffffffe, 3);
  const frame = new Uint8Array(header.byteLength + 4);
  frame.set(header);
  frame.set([1, 2, 3, 4], header.byteLength);
  const decoded = decodeDataFrame(frame.buffer);
  assert.equal(decoded.requestId, 0xfffffffe);
  assert.equal(decoded.batchIndex, 3);
  assert.deepEqual([...decoded.ipc], [1, 2, 3, 4]);
  assert.equal(decoded.ipc.buffer, frame.buffer);
  assert.throws(() => decodeDataFrame(new Uint8Array(3)), /shorter than its 8-byte header/);
});

test('the constants import nothing, so the UI can read them without TypeBox in its bundle', async () => {
  const compiled = await readFile(new URL('../../shared/constants.js', import.meta.url), 'utf8');
  assert.doesNotMatch(compiled, /^\s*import\b|\bfrom\s*['"]|\bimport\s*\(/m);
  assert.match(compiled, /export const TRADE_SORT_COLUMNS/);
});
