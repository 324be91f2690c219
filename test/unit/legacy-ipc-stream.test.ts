// Sniffing pre-0.15 Arrow IPC streams (no continuation marker) without taking other files for them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from '../../fixtures/generate.js';
import { isSchemaMessage } from '../../server/prepare/arrow-ipc/legacy-stream.js';
import { mulberry32 } from '../support/random.js';

const ARROW_TESTING = path.resolve(repoRoot(), '..', 'shared', 'testdata', 'arrow-testing');

/** The first message's metadata of a stream, legacy (bare length) or modern (marker + length). */
function firstMetadata(bytes: Buffer): Buffer {
  const modern = bytes.readUInt32LE(0) === 0xffffffff;
  const at = modern ? 8 : 4;
  return bytes.subarray(at, at + bytes.readInt32LE(modern ? 4 : 0));
}

test('the 0.14.1 stream and a modern stream both start with a Schema message', async () => {
  const legacy = await readFile(path.join(ARROW_TESTING, 'legacy-0.14.1-generated_primitive.stream'));
  assert.notEqual(legacy.readUInt32LE(0), 0xffffffff, 'the legacy file has no continuation marker');
  assert.ok(isSchemaMessage(firstMetadata(legacy)));
  assert.ok(isSchemaMessage(firstMetadata(await readFile(path.join(ARROW_TESTING, 'generated_primitive.stream')))));
});

test('text, JSON, Parquet and random bytes are not taken for a legacy stream', () => {
  const texts = ['run_id,ts,symbol\n1,2,AAA\n', '{"bars": [1, 2, 3], "padding": "................................"}', 'PAR1\x15\x04\x15\x10\x15\x14L\x15\x02\x15\x00\x12\x00\x00'];
  for (const text of texts) assert.equal(isSchemaMessage(Buffer.from(text)), false, text);
  const random = mulberry32(13);
  let accepted = 0;
  for (let i = 0; i < 20_000; i++) {
    const bytes = Buffer.alloc(16 + Math.floor(random() * 240));
    for (let k = 0; k < bytes.length; k++) bytes[k] = Math.floor(random() * 256);
    if (isSchemaMessage(bytes)) accepted++;
  }
  assert.equal(accepted, 0, 'random bytes passed for a schema message');
});

test('a schema message cut short or with a record-batch header is refused', async () => {
  const metadata = firstMetadata(await readFile(path.join(ARROW_TESTING, 'legacy-0.14.1-generated_primitive.stream')));
  assert.equal(isSchemaMessage(metadata.subarray(0, 12)), false);
  const table = metadata.readUInt32LE(0);
  const vtable = table - metadata.readInt32LE(table);
  const headerTypeAt = metadata.readUInt16LE(vtable + 6);
  const batch = Buffer.from(metadata);
  batch[table + headerTypeAt] = 3; // RecordBatch
  assert.equal(isSchemaMessage(batch), false);
});
