// The exchange time zone of a dataset: the default display zone of the UI and the zone of the
// `hour` breakdowns (trade_day's hour is computed in it). A fact, not a guess:
// 1. the description's `timezone` (tickscope.json or --mapping);
// 2. inferred when every zoned timestamp column of the inputs names one and the same zone: an
//    Arrow IPC timestamp's time zone, or the zone pandas records in a Parquet file's metadata
//    (`to_parquet` of a tz-aware column or index);
// 3. otherwise UTC, recorded as none ("timestamps carry no zone").
// Recorded in the meta table (MetaKey.exchangeTimezone, exchangeTimezoneSource).
import type { DuckDBConnection } from '@duckdb/node-api';
import { errorMessage } from '../../shared/errors.js';
import { META_TABLE, MetaKey, exchangeTimeSql } from '../store/format.js';
import { sqlString } from '../sql/text.js';
import { familyOf } from './column-types.js';
import { COLUMNS } from './mapping.js';
import type { TableInput } from './table-input-shape.js';

export interface ExchangeZone {
  /** IANA name; 'UTC' when none is known. */
  zone: string;
  source: string;
}

/** The exchange zone of a build, by the order above. */
export async function exchangeZone(con: DuckDBConnection, stated: string | undefined, tables: readonly (TableInput | null)[]): Promise<ExchangeZone> {
  if (stated) return { zone: stated, source: 'tickscope.json' };
  const zones = new Set<string>();
  for (const t of tables) {
    if (!t) continue;
    const timestampColumns = [...t.resolved].filter(([canonical]) => COLUMNS[t.source.kind][canonical]?.kind === 'timestamp').map(([, c]) => c);
    const pandasZones = t.parquet.length ? await pandasTimezones(con, t.parquet[0]!.path) : new Map<string, string>();
    for (const c of timestampColumns) {
      const zone = c.zone ?? pandasZones.get(c.name) ?? null;
      if (zone) zones.add(zone);
      else if (familyOf(c) === 'timestamptz') zones.add('UTC');
    }
  }
  const named = [...zones].filter((z) => z !== 'UTC');
  if (named.length === 1 && !zones.has('UTC')) {
    const zone = named[0]!;
    if (await isKnownZone(con, zone)) return { zone, source: `inferred: every zoned timestamp column is in ${zone}` };
  }
  if (named.length > 1) return { zone: 'UTC', source: `none: zoned timestamps in several zones (${named.sort().join(', ')}); set "timezone" in tickscope.json` };
  return { zone: 'UTC', source: 'none: the timestamps name no exchange zone; set "timezone" in tickscope.json to show exchange time' };
}

/** column -> time zone, from the pandas metadata of a Parquet file (none when it has none). */
async function pandasTimezones(con: DuckDBConnection, file: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let text: string | undefined;
  try {
    const r = await con.runAndReadAll(`SELECT decode(value) FROM parquet_kv_metadata(${sqlString(file)}) WHERE decode(key) = 'pandas'`);
    text = r.getRows()[0]?.[0] as string | undefined;
  } catch (err) {
    throw new Error(`reading the Parquet metadata of ${file}: ${errorMessage(err)}`, { cause: err });
  }
  if (!text) return out;
  let meta: { columns?: { name?: unknown; field_name?: unknown; metadata?: { timezone?: unknown } | null }[] };
  try {
    meta = JSON.parse(text) as typeof meta;
  } catch {
    // Metadata that is not JSON says nothing about zones; the file's columns are read as they are.
    return out;
  }
  for (const col of meta.columns ?? []) {
    const zone = col.metadata?.timezone;
    const name = typeof col.field_name === 'string' ? col.field_name : typeof col.name === 'string' ? col.name : null;
    if (typeof zone === 'string' && name) out.set(name, normaliseZone(zone));
  }
  return out;
}

/** pandas writes fixed UTC as 'UTC' or '+00:00'. */
function normaliseZone(zone: string): string {
  return zone === '+00:00' || zone === 'Z' || zone === 'utc' ? 'UTC' : zone;
}

async function isKnownZone(con: DuckDBConnection, zone: string): Promise<boolean> {
  try {
    await con.run(`SELECT ${exchangeTimeSql("TIMESTAMP '2000-01-01'", zone)}`);
    return true;
  } catch {
    // A zone name DuckDB does not know (a fixed offset such as '+05:30') is not an exchange zone.
    return false;
  }
}

/**
 * The SQL macro `exchange_time(ts)` of this build's connection: the rollups compute trade_day's
 * hour with it (a temporary macro, not stored).
 */
export async function defineExchangeTime(con: DuckDBConnection, zone: string): Promise<void> {
  await con.run(`CREATE OR REPLACE TEMP MACRO exchange_time(ts) AS ${exchangeTimeSql('ts', zone)}`);
}

export async function writeExchangeZone(con: DuckDBConnection, z: ExchangeZone): Promise<void> {
  await con.run(`INSERT INTO ${META_TABLE} VALUES (${sqlString(MetaKey.exchangeTimezone)}, ${sqlString(z.zone)}), (${sqlString(MetaKey.exchangeTimezoneSource)}, ${sqlString(z.source)})`);
}
