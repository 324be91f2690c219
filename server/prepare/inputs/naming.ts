// Which table a file's path names: the deepest component, from the file's own name up to the
// input's folder, that names one (`trades/`, `trades_2024.parquet`, `symbols.arrow`); hive
// partitions (`key=value`) are columns, never names.
import path from 'node:path';
import { TABLE_KINDS, type TableKind } from './types.js';

/** The table a path component names, if any. */
export function tableOfComponent(component: string): TableKind | null {
  const c = component.toLowerCase();
  if (c.includes('=')) return null; // a hive partition, e.g. run_id=runs-2
  for (const kind of TABLE_KINDS) {
    const singular = kind.slice(0, -1);
    for (const name of [kind, singular]) {
      if (c === name || c.startsWith(`${name}.`) || c.startsWith(`${name}_`) || c.startsWith(`${name}-`)) return kind;
    }
  }
  return null;
}

/** Whether a path component names the benchmark, as tableOfComponent's names do a table. */
export function namesBenchmark(component: string): boolean {
  const c = component.toLowerCase();
  return ['benchmark', 'benchmarks'].some((name) => c === name || c.startsWith(`${name}.`) || c.startsWith(`${name}_`) || c.startsWith(`${name}-`));
}

/** Whether the deepest component of the file's path that names anything names the benchmark. */
export function isBenchmarkFile(root: string, file: string): boolean {
  const rel = path.relative(root, file).split(path.sep).filter((p) => p && p !== '..');
  for (const c of [...rel.slice(0, -1), path.basename(file)].reverse()) {
    if (namesBenchmark(c)) return true;
    if (tableOfComponent(c)) return false;
  }
  return false;
}

/** The table a component of the file's path names, if any. */
export function namedTable(root: string, file: string): TableKind | null {
  const rel = path.relative(root, file).split(path.sep).filter((p) => p && p !== '..');
  const components = [...rel.slice(0, -1), path.basename(file)].reverse();
  for (const c of components) {
    const kind = tableOfComponent(c);
    if (kind) return kind;
  }
  return tableOfComponent(path.basename(root));
}

export function hiveOf(root: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  const rel = path.relative(root, path.dirname(file));
  if (!rel || rel.startsWith('..')) return out;
  for (const part of rel.split(path.sep)) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq)] = decodeURIComponent(part.slice(eq + 1));
  }
  return out;
}

/** The deepest folder holding every one of `files`. */
export function commonFolder(files: readonly string[]): string {
  let common = path.dirname(files[0]!);
  for (const f of files) {
    while (common !== path.dirname(common) && !(`${path.dirname(f)}${path.sep}`.startsWith(`${common}${path.sep}`) || path.dirname(f) === common)) {
      common = path.dirname(common);
    }
  }
  return common;
}
