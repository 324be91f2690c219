// Zip archives among the inputs. A tool may write its result as one: Freqtrade zips its result
// JSON with the run's configuration, strategy and market data (backtest-result-<date>.zip). The
// JSON documents inside are what a format adapter may recognise, so they are unpacked (nothing
// else is: a zipped Arrow or Parquet file is the tool's own side data, not a table) into a folder
// the caller owns for the preparation's life, and read as loose JSON files (inputs.ts).
//
// yauzl reads the central directory and streams one member at a time (a result zip can hold
// hundreds of MB of market data we never inflate), handles zip64, and refuses member names that
// would escape the folder they are unpacked into.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { errorMessage } from '../../shared/errors.js';
import { PrepareError } from './errors.js';

/** A JSON document inside a zip archive. */
export interface ArchiveMember {
  archive: string;
  /** Its name inside the archive (folders included). */
  member: string;
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

/** What names a member stably, whether or not it was unpacked: `<archive>!<member>`. */
export function memberPath(m: ArchiveMember): string {
  return `${m.archive}!${m.member}`;
}

/**
 * The JSON documents of a zip archive (hidden and `__MACOSX` entries left out), unpacked into
 * `into`/<archive name>/ when `into` is given: their paths there, else null.
 */
export async function jsonMembers(archive: string, into: string | null): Promise<{ member: ArchiveMember; unpacked: string | null }[]> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(archive, { lazyEntries: true, autoClose: false });
  } catch (err) {
    throw new PrepareError(`input ${archive} cannot be read as a zip archive: ${errorMessage(err)}`, { cause: err });
  }
  const out: { member: ArchiveMember; unpacked: string | null }[] = [];
  const folder = into === null ? null : unpackFolderOf(into, archive);
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      const base = path.posix.basename(name);
      if (name.endsWith('/') || !base.toLowerCase().endsWith('.json') || base.startsWith('.') || name.split('/').includes('__MACOSX')) continue;
      let unpacked: string | null = null;
      if (folder !== null) {
        await mkdir(folder, { recursive: true });
        // The base name only (a member's folders are the archive's business), numbered when two share it.
        unpacked = path.join(folder, out.some((m) => m.unpacked && path.basename(m.unpacked) === base) ? `${out.length}-${base}` : base);
        await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(unpacked));
      }
      out.push({ member: { archive, member: name }, unpacked });
    }
  } catch (err) {
    throw new PrepareError(`input ${archive}: its JSON members cannot be unpacked: ${errorMessage(err)}`, { cause: err });
  } finally {
    zip.close();
  }
  return out;
}
