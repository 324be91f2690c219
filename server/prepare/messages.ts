// IPC messages between a parent (control server, CLI, benchmark) and the preparation child
// process (server/prepare/child.ts): the request is the preparation's settings, the answers are
// its progress and its result, each with a message type.
import { isBadRowPolicy } from './description.js';
import type { PrepareProgress, PrepareResult, PrepareSettings } from './prepare.js';

/** parent -> child: the one request a child process serves. */
export interface PrepareRequestMessage extends PrepareSettings {
  type: 'prepare';
}

/** child -> parent */
export interface PrepareProgressMessage extends PrepareProgress {
  type: 'progress';
}

export interface PreparedMessage extends PrepareResult {
  type: 'prepared';
  /** The child's peak resident set size (bytes), for the benchmark's memory check. */
  peakRssBytes: number;
}

export interface PrepareFailedMessage {
  type: 'failed';
  message: string;
  /** A PrepareError's message: its lines are printable already, and its line breaks its own. */
  lines?: boolean;
  peakRssBytes?: number;
}

export type ChildToParentMessage = PrepareProgressMessage | PreparedMessage | PrepareFailedMessage;

const isStr = (v: unknown) => typeof v === 'string';
const optStr = (v: unknown) => v === undefined || typeof v === 'string';
const numOrNull = (v: unknown) => v === null || typeof v === 'number';

export function isPrepareRequest(m: unknown): m is PrepareRequestMessage {
  if (typeof m !== 'object' || m === null) return false;
  const o = m as Record<string, unknown>;
  const input = o['input'];
  return (
    o['type'] === 'prepare' &&
    (isStr(input) || (Array.isArray(input) && input.length > 0 && input.every(isStr))) &&
    isStr(o['storeDir']) &&
    optStr(o['memoryLimit']) &&
    optStr(o['mappingFile']) &&
    optStr(o['tempDir']) &&
    (o['threads'] === undefined || typeof o['threads'] === 'number') &&
    (o['onBadRows'] === undefined || isBadRowPolicy(o['onBadRows'])) &&
    // The description itself is checked, naming its problems, by prepareDataset.
    (o['description'] === undefined || (typeof o['description'] === 'object' && o['description'] !== null))
  );
}

export function isChildToParentMessage(m: unknown): m is ChildToParentMessage {
  if (typeof m !== 'object' || m === null) return false;
  const o = m as Record<string, unknown>;
  switch (o['type']) {
    case 'progress':
      return isStr(o['phase']) && typeof o['fraction'] === 'number' && numOrNull(o['rows']) && numOrNull(o['totalRows']) && numOrNull(o['etaSeconds']) && optStr(o['source']);
    case 'prepared':
      return (
        isStr(o['storePath']) &&
        isStr(o['fingerprint']) &&
        typeof o['reused'] === 'boolean' &&
        typeof o['peakRssBytes'] === 'number' &&
        isStr(o['descriptionPath']) &&
        Array.isArray(o['dataQuality'])
      );
    case 'failed':
      return isStr(o['message']) && (o['lines'] === undefined || typeof o['lines'] === 'boolean');
    default:
      return false;
  }
}
