import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  clientMessageValidator as client,
  decodeDataFrame,
  encodeDataFrameHeader,
  serverMessageValidator as server,
} from '../shared/protocol.js';
import { parseMessage } from '../shared/validate.js';

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
    ['{"type":"request","id":1,"query":"drop table","params":{}}', /\/query is "drop table", expected one of equity/],
    ['{"type":"request","id":1,"query":"equity","params":{"width":10,"sql":"x"}}', /sql|additional|params/i],
    ['{"type":"launch"}', /\/type is "launch"/],
    ['[1,2]', /\/type is missing/],
  ] as const) {
    const checked = parseMessage(text, client);
    assert.equal(checked.ok, false, text);
    assert.match((checked as { error: string }).error, pattern, text);
  }
});

test('server messages are validated too', () => {
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
