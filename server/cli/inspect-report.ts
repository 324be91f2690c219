// `tickscope inspect` as text for a terminal (`--json` prints the report itself).
import type { InspectReport } from '../prepare/inspect.js';

const FROM: Record<string, string> = {
  name: 'its name',
  alias: 'alias',
  description: 'description',
  hive: 'hive partition',
  constant: 'no such column: one instrument, named after the dataset folder or the description\'s "symbol"',
  folder: 'no such column: one run per folder of the dataset, named after it',
};

export function formatInspectReport(r: InspectReport): string {
  const lines: string[] = [];
  lines.push(`dataset description: ${r.description.path}${r.description.found ? '' : ' (none yet)'}`, '');
  lines.push('files:');
  for (const f of r.files) {
    const problems = f.problems.length ? `; ${f.problems.length} problem(s), listed under its table` : '';
    lines.push(`  ${f.path}`, `    ${f.format}, read as ${f.recognisedAs}; ${f.columns.length} column(s)${problems}`);
  }
  for (const f of r.formats) {
    lines.push('', `recognised ${f.summary}`);
    for (const file of f.files) {
      const cols = Object.entries(file.columns).map(([canon, col]) => `${canon} <- ${col}`).join(', ');
      lines.push(`  ${file.role}: ${file.path}${cols ? `\n    ${cols}` : ''}`);
    }
    for (const m of f.missing) lines.push(`  no ${m.table}: ${m.why}`);
  }
  for (const t of r.tables) {
    lines.push('', `${t.table} (${t.files.length} file(s)):`);
    const width = Math.max(...t.columns.map((c) => c.canonical.length), 8);
    for (const c of t.columns) lines.push(`  ${c.canonical.padEnd(width)} <- ${c.column} (${c.type}; ${FROM[c.from] ?? c.from}${c.reading ? `; read as ${c.reading}` : ''})`);
    for (const m of t.missing.filter((x) => x.required)) {
      lines.push(`  ${m.canonical.padEnd(width)}    MISSING (required)${m.candidates.length ? `; could be ${m.candidates.join(', ')}` : ''}`);
    }
    const optional = t.missing.filter((x) => !x.required).map((x) => x.canonical);
    if (optional.length) lines.push(`  not found (optional): ${optional.join(', ')}`);
    if (t.unused.length) lines.push(`  not used: ${t.unused.join(', ')}`);
    for (const p of t.problems) lines.push(`  problem: ${p}`);
    if (t.sample.length) {
      lines.push('  first rows:');
      for (const row of t.sample) lines.push(`    ${Object.entries(row).map(([k, v]) => `${k}=${v ?? 'NULL'}`).join('  ')}`);
    }
  }
  if (r.notRead) lines.push('', r.notRead);
  const problems = r.problems.length ? `${r.problems.length} problem(s) above, all of which prepare would report at once` : (r.noData ?? 'see the problems above');
  lines.push('', r.ready ? 'ready: prepare would find every required column' : `not ready: ${problems}`);
  lines.push('', `suggested ${r.description.path}:`, JSON.stringify(r.suggestion, null, 2), '');
  return lines.join('\n');
}
