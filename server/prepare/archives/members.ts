// Archives among the inputs: zip (.zip), tar (.tar, gzipped, bzip2'd or xz'd: .tar.gz, .tgz,
// .tar.bz2, .tar.xz, ...) and a file compressed whole (trades.csv.bz2, perf.pkl.xz: an archive of
// the one file its name says it holds; compressed-files.ts). A tool may write its
// result as one (Freqtrade zips its result JSON with the run's configuration, strategy and market
// data), and a backtest's folder is shared as one. The members that are data files (Parquet,
// Arrow, CSV, JSON, as the caller says by their names) are unpacked, keeping their folders, into a
// folder the caller owns for the preparation's life; inputs/ reads each as a file lying where
// its path inside the archive puts it: the table its name says (trades.csv, bars/run_id=a/...), or
// a loose file a format adapter may claim (Freqtrade's result JSON). Nothing else is read: a
// zipped market-data file is the tool's own side data, not a table.
//
// yauzl reads a zip's central directory and streams one member at a time (a result zip can hold
// hundreds of MB of market data we never inflate), handles zip64, and refuses member names that
// would escape the folder they are unpacked into. node-tar (npm's own) reads tar, gzipped or not,
// pax and GNU long names included, and strips absolute and `..` paths the same way.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Stats } from 'node:fs';
import * as tar from 'tar';
import yauzl from 'yauzl';
import { errorMessage } from '../../../shared/errors.js';
import { compressionOf, inflatedName, inflateFile } from './compressed-files.js';
import { PrepareError } from '../errors.js';

/** A file inside an archive (or a table written out of a report or workbook). */
export interface ArchiveMember {
  archive: string;
  /** Its name inside the archive (folders included). */
  member: string;
  /**
   * For a table of a document (a workbook, report, pickle or store) that itself came out of an archive
   * (`archive` is then where the document lies, beside that archive): `<that archive>!<its path inside>`,
   * which names it in messages and stamps, since no file lies at `archive`.
   */
  within?: string;
}

/** A fresh folder name (not created: jsonMembers makes it when an archive has a document) for a preparation's or inspection's unpacked documents. */
export function unpackFolder(): string {
  return path.join(tmpdir(), `tickscope-unpacked-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/**
 * The folder, in a preparation's unpack folder `into`, of what is unpacked from `source` (a zip
 * archive, an HTML report): named after it, with a hash of its path, since two inputs may share a name.
 */
export function unpackFolderOf(into: string, source: string): string {
  return path.join(into, `${createHash('sha1').update(source).digest('hex').slice(0, 8)}-${path.basename(source)}`);
}

/** Whether a path is a zip archive, by its name. */
export function isZipArchive(file: string): boolean {
  return file.toLowerCase().endsWith('.zip');
}

/** Whether a path is a tar archive, compressed or not, by its name. */
export function isTarArchive(file: string): boolean {
  return /\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tzst)$/i.test(file);
}

/** Whether a path is a file compressed whole (gzip, bzip2, xz or zstd), by its name: not a tar archive. */
export function isCompressedFile(file: string): boolean {
  return compressionOf(file) !== null && !isTarArchive(file);
}

/** Whether an archive member is read at all: not hidden, not macOS's resource forks. */
function isVisible(name: string): boolean {
  return !name.split('/').some((part) => (part.startsWith('.') && part !== '.' && part !== '..') || part === '__MACOSX');
}

/** What names a member stably, whether or not it was unpacked: `<archive>!<member>` (`<archive>!<workbook>!<sheet>` for a workbook that came out of one). */
export function memberPath(m: ArchiveMember): string {
  return `${m.within ?? m.archive}!${m.member}`;
}

/** A file taken out of an archive (or written out of a report, a workbook, a pandas JSON file), and its path where it was written. */
export type UnpackedMember = { member: ArchiveMember; unpacked: string };

/**
 * The data files of a zip or tar archive, or the one file a compressed file holds (`wanted` by
 * their names; hidden and `__MACOSX` entries left out), unpacked into `into`/<archive name>/<member path>.
 */
export async function archiveMembers(archive: string, into: string, wanted: (name: string) => boolean): Promise<UnpackedMember[]> {
  const folder = unpackFolderOf(into, archive);
  const take = (name: string) => !name.endsWith('/') && isVisible(name) && wanted(path.posix.basename(name));
  if (isTarArchive(archive)) return tarMembers(archive, folder, take);
  if (isCompressedFile(archive)) return inflatedMember(archive, folder, take);
  return zipMembers(archive, folder, take);
}

/** The file a compressed file holds, named as its name says (trades.csv.bz2 holds trades.csv), when it is taken. */
async function inflatedMember(file: string, folder: string, take: (name: string) => boolean): Promise<UnpackedMember[]> {
  const name = inflatedName(path.basename(file));
  if (!take(name)) return [];
  await mkdir(folder, { recursive: true });
  const unpacked = path.join(folder, name);
  await inflateFile(file, unpacked, compressionOf(file)!);
  return [{ member: { archive: file, member: name }, unpacked }];
}

async function zipMembers(archive: string, folder: string, take: (name: string) => boolean): Promise<UnpackedMember[]> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(archive, { lazyEntries: true, autoClose: false });
  } catch (err) {
    throw new PrepareError(`input ${archive} cannot be read as a zip archive: ${errorMessage(err)}`, { cause: err });
  }
  const out: UnpackedMember[] = [];
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      if (!take(name)) continue;
      // yauzl has refused names that would leave the folder (absolute, `..`).
      const unpacked = path.join(folder, ...name.split('/'));
      await mkdir(path.dirname(unpacked), { recursive: true });
      await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(unpacked));
      out.push({ member: { archive, member: name }, unpacked });
    }
  } catch (err) {
    throw new PrepareError(`input ${archive}: its data files cannot be unpacked: ${errorMessage(err)}`, { cause: err });
  } finally {
    zip.close();
  }
  return out;
}

async function tarMembers(archive: string, folder: string, take: (name: string) => boolean): Promise<UnpackedMember[]> {
  // node-tar inflates gzip itself; a bzip2'd, xz'd or zstd'd tar is inflated beside the folder first.
  const compression = compressionOf(archive);
  if (compression === null || compression === 'gzip') return untar(archive, archive, folder, take);
  const inflated = `${folder}.tar`;
  await mkdir(path.dirname(folder), { recursive: true });
  try {
    await inflateFile(archive, inflated, compression);
    return await untar(archive, inflated, folder, take);
  } finally {
    await rm(inflated, { force: true });
  }
}

/** The members of `archive` read from the tar file `file` (itself, or what it was inflated to). */
async function untar(archive: string, file: string, folder: string, take: (name: string) => boolean): Promise<UnpackedMember[]> {
  const names: string[] = [];
  // Regular files only: links could point outside the folder, and a link to data is the data's job.
  const filter = (name: string, entry: tar.ReadEntry | Stats) =>
    'type' in entry && entry.type === 'File' && take(name) && !name.split('/').includes('..') && (names.push(name), true);
  try {
    await mkdir(folder, { recursive: true });
    await tar.x({ file, cwd: folder, strict: true, filter, preserveOwner: false });
  } catch (err) {
    throw new PrepareError(`input ${archive} cannot be read as a tar archive: ${errorMessage(err)}`, { cause: err });
  }
  // node-tar writes an absolute name below the folder (a member with `..` was not taken).
  return names.map((name) => ({ member: { archive, member: name }, unpacked: path.join(folder, ...name.split('/').filter((p) => p !== '')) }));
}
