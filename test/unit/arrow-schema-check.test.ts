// Damaged Arrow schemas (as apache-arrow hands them back without complaint) are refused with the
// first problem, before any code trusts a field's name or type.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dictionary, Field, FixedSizeBinary, Float64, Int32, List, Schema, Utf8 } from 'apache-arrow';
import { schemaProblem } from '../../server/prepare/arrow-ipc/schema-check.js';

const field = (name: unknown, type: unknown) => new Field(name as string, type as never);

test('a usable schema passes', () => {
  assert.equal(schemaProblem(new Schema([field('ts', new Int32()), field('pnl', new Float64()), field('tags', new List(field('item', new Utf8())))])), null);
});

test('nameless fields, bad UTF-8 names, negative widths, duplicates and missing schemas are named', () => {
  assert.equal(schemaProblem(new Schema([field('a', new Int32()), field(null, new Utf8())])), 'field 2 of 2 has no name');
  assert.match(schemaProblem(new Schema([field('dic\ufffd\ufffd', new Int32())]))!, /^field 1 of 1: its name 'dic\ufffd\ufffd' is not valid UTF-8$/);
  assert.match(schemaProblem(new Schema([field('blob', new Dictionary(new FixedSizeBinary(-11911), new Int32()))]))!, /field 1 of 1 \('blob'\), its dictionary is a fixed-size binary of width -11911/);
  assert.match(schemaProblem(new Schema([field('l', new List(field(null, new Utf8())))]))!, /field 1 of 1 \('l'\), child 1 has no name/);
  assert.match(schemaProblem(new Schema([field('pnl', new Float64()), field('pnl', new Int32())]))!, /the column name 'pnl' appears twice/);
  // apache-arrow's Schema constructor itself trips over a field without a type; the reader does not.
  assert.match(schemaProblem({ fields: [{ name: 'x', type: null }] } as unknown as Schema)!, /field 1 of 1 \('x'\) has no type/);
  assert.equal(schemaProblem(null), 'it has no schema');
  assert.match(schemaProblem(new Schema([field('\x1b[2Jwipe', new Int32()), field('\x1b[2Jwipe', new Int32())]))!, /'\\x1b\[2Jwipe' appears twice/);
});
