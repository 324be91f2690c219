// IPC messages between the control server and the preparation child (server/prepare/child.ts).

/** parent -> child: the one request a child process serves. */
export interface PrepareRequestMessage {
  type: 'prepare';
  input: string;
  storeDir: string;
  memoryLimit?: string;
}

/** child -> parent */
export interface PrepareProgressMessage {
  type: 'progress';
  phase: string;
  fraction: number;
}

export interface PreparedMessage {
  type: 'prepared';
  storePath: string;
  fingerprint: string;
  reused: boolean;
}

export interface PrepareFailedMessage {
  type: 'failed';
  message: string;
}

export type ChildToParentMessage = PrepareProgressMessage | PreparedMessage | PrepareFailedMessage;

export function isPrepareRequest(m: unknown): m is PrepareRequestMessage {
  if (typeof m !== 'object' || m === null) return false;
  const o = m as Record<string, unknown>;
  return (
    o['type'] === 'prepare' &&
    typeof o['input'] === 'string' &&
    typeof o['storeDir'] === 'string' &&
    (o['memoryLimit'] === undefined || typeof o['memoryLimit'] === 'string')
  );
}

export function isChildToParentMessage(m: unknown): m is ChildToParentMessage {
  if (typeof m !== 'object' || m === null) return false;
  const o = m as Record<string, unknown>;
  switch (o['type']) {
    case 'progress':
      return typeof o['phase'] === 'string' && typeof o['fraction'] === 'number';
    case 'prepared':
      return typeof o['storePath'] === 'string' && typeof o['fingerprint'] === 'string' && typeof o['reused'] === 'boolean';
    case 'failed':
      return typeof o['message'] === 'string';
    default:
      return false;
  }
}
