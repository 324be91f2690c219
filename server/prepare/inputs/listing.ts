// The files an input names: a folder's, walked in name order (hidden and `_` files and the dataset
// description skipped), or a glob's (`*`, `?`, `**`, `[...]`), matched as a shell would.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { DESCRIPTION_FILE, formatByExtension, holdsTables, isContainer } from './file-kinds.js';

export function hasGlob(s: string): boolean {
  return /[*?[]/.test(s);
}

/** The data files under `dir`, by extension; the archives, documents of tables (isTableDocument) and files not read among its files go to `archives`. */
export async function walk(dir: string, archives: string[]): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.') || e.name.startsWith('_') || e.name.toLowerCase() === DESCRIPTION_FILE) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p, archives)));
    else if (e.isFile() && formatByExtension(e.name)) out.push(p);
    else if (e.isFile() && isContainer(e.name)) archives.push(p);
  }
  return out;
}

/** A glob as a RegExp over '/'-separated paths relative to its base folder. */
function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        // '**/' matches zero or more folders; a trailing '**' matches anything.
        if (pattern[i + 2] === '/') {
          re += '(?:[^/]*/)*';
          i += 2;
        } else {
          re += '.*';
          i += 1;
        }
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let cls = pattern.slice(i + 1, end);
        if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The data files a glob matches, and the archives and documents of tables among them (or inside folders it matches), apart. */
export async function expandGlob(pattern: string): Promise<{ base: string; files: string[]; containers: string[] }> {
  const abs = path.resolve(pattern);
  const parts = abs.split(path.sep);
  const firstGlob = parts.findIndex((p) => hasGlob(p));
  const base = parts.slice(0, firstGlob).join(path.sep) || path.sep;
  const rest = parts.slice(firstGlob).join('/');
  const re = globRegExp(rest);
  const st = await stat(base).catch(() => null);
  if (!st?.isDirectory()) return { base, files: [], containers: [] };
  const files: string[] = [];
  const containers: string[] = [];
  const visit = async (dir: string) => {
    // A folder that cannot be listed matches nothing, as with a shell's glob.
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(dir, e.name);
      const rel = path.relative(base, p).split(path.sep).join('/');
      if (e.isDirectory()) {
        if (e.name.startsWith('.')) continue;
        if (re.test(rel)) files.push(...(await walk(p, containers)));
        else await visit(p);
      } else if (e.isFile() && re.test(rel)) (holdsTables(p) ? containers : files).push(p);
    }
  };
  await visit(base);
  return { base, files, containers };
}
