import path from 'node:path';
import { ensureFixtures, repoRoot } from '../../fixtures/generate.js';

export const TINY_SEED = 7;

/** The tiny fixture, generated once into the cache and shared by every test file. */
export function tinyDataset(): Promise<string> {
  return ensureFixtures('tiny', TINY_SEED);
}

/** Stores prepared by tests live apart from the ones `npm start` uses. */
export function testStoreDir(): string {
  return path.join(repoRoot(), '.cache', 'test-stores');
}
