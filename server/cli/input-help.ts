// What `serve`, `prepare` and `inspect` read, for their --help: the tables, each one's canonical
// columns (required ones marked) with the names recognised without a mapping, and the keys of
// tickscope.json. Built from the tables the preparation itself matches against (mapping.ts) and
// the description's own key list, so the help cannot drift from what is read.
import { COLUMNS } from '../prepare/mapping.js';
import { DESCRIPTION_FILE, DESCRIPTION_KEY_HELP } from '../prepare/description.js';
import { TABLE_KINDS } from '../prepare/inputs/index.js';

const WRAP = 100;

function wrapped(prefix: string, words: readonly string[], indent: string): string {
  const lines: string[] = [];
  let line = prefix;
  for (const word of words) {
    if (line.length + word.length + 1 > WRAP && line.trim().length > 0) {
      lines.push(line.trimEnd());
      line = indent;
    }
    line += `${word} `;
  }
  lines.push(line.trimEnd());
  return lines.join('\n');
}

export function inputHelp(): string {
  const out = [
    '',
    'What it reads: folders, files and globs of Parquet, Arrow IPC, CSV or JSON; also Excel',
    'workbooks, HTML reports, pandas pickles and HDF5 stores (each frame as its to_csv), zip or tar',
    'archives of any of them, and any of them compressed whole with gzip, bzip2 or xz (.csv.bz2,',
    '.pkl.xz, .tar.xz). A file belongs to the table its nearest path component names',
    '(bars/, trades.parquet, symbols.arrow, runs/, ...; anything else is bars); hive partitions',
    '(run_id=base/) become columns. zipline/pyfolio, backtrader, backtesting.py, vectorbt, Lean,',
    'Nautilus, TradingView, AmiBroker, MetaTrader, Freqtrade, Jesse and bt outputs, and lists of',
    'fills, are recognised as they are written (README).',
    '',
    'Tables and columns (* required; recognised names in brackets, compared case-insensitively):',
  ];
  for (const kind of TABLE_KINDS) {
    out.push(`  ${kind}`);
    for (const [name, column] of Object.entries(COLUMNS[kind])) {
      const head = `    ${column.required ? '*' : ' '} ${name.padEnd(15)}`;
      const names = column.aliases.map((alias, i) => `${i === 0 ? '[' : ''}${alias}${i === column.aliases.length - 1 ? ']' : ','}`);
      out.push(wrapped(head, names, ' '.repeat(head.length + 1)));
    }
  }
  out.push('', `${DESCRIPTION_FILE} beside the data (or --mapping FILE), every key optional:`);
  for (const [key, help] of Object.entries(DESCRIPTION_KEY_HELP)) out.push(`  ${key.padEnd(28)} ${help}`);
  out.push('');
  return out.join('\n');
}
