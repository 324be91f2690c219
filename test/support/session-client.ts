// A Node client of the worker <-> session protocol, as the browser worker speaks it: used by the
// integration tests (and reusable by benchmarks).
import WebSocket from 'ws';
import { tableFromIPC, type Table } from 'apache-arrow';
import {
  decodeDataFrame,
  serverMessageValidator,
  type CreateSessionReply,
  type DoneMessage,
  type ErrorMessage,
  type HelloMessage,
  type QueryRequest,
} from '../../shared/protocol.js';
import { parseMessage } from '../../shared/validate.js';

export async function createSession(baseUrl: string, body: { key?: string; dataset?: string } = {}) {
  const response = await fetch(`${baseUrl}/api/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as CreateSessionReply & { message?: string };
  if (!response.ok) throw new Error(`POST /api/sessions: ${response.status} ${json.message}`);
  return json;
}

export interface Answer {
  done: DoneMessage | null;
  error: ErrorMessage | null;
  tables: Table[];
  elapsedMs: number;
}

export class SessionClient {
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly pending = new Map<number, { answer: Answer; started: number; settle: (answer: Answer) => void }>();
  private readonly unsolicited: ErrorMessage[] = [];
  private nextId = 1;

  private constructor(
    readonly socket: WebSocket,
    readonly hello: HelloMessage,
  ) {
    this.closed = new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    socket.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
  }

  static async connect(baseUrl: string, wsUrl: string, headers: Record<string, string> = {}): Promise<SessionClient> {
    const socket = new WebSocket(new URL(wsUrl, baseUrl.replace(/^http/, 'ws')), { headers });
    const hello = await new Promise<HelloMessage>((resolve, reject) => {
      socket.once('message', (data) => {
        const parsed = parseMessage(data.toString(), serverMessageValidator);
        if (parsed.ok && parsed.value.type === 'hello') resolve(parsed.value);
        else reject(new Error(`expected hello, got ${data.toString().slice(0, 200)}`));
      });
      socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
      socket.once('error', reject);
    });
    return new SessionClient(socket, hello);
  }

  get errorsWithoutRequest(): readonly ErrorMessage[] {
    return this.unsolicited;
  }

  request(query: Omit<QueryRequest, 'type' | 'id'>): Promise<Answer> {
    return this.send({ type: 'request', id: this.nextId++, ...query } as QueryRequest);
  }

  /** Sends any text; for tests of bad input. Resolves with the answer for `expectId`, if given. */
  sendRaw(text: string, expectId?: number): Promise<Answer> | void {
    const answer = expectId === undefined ? undefined : this.expect(expectId);
    this.socket.send(text);
    return answer;
  }

  cancel(id: number): void {
    this.socket.send(JSON.stringify({ type: 'cancel', id }));
  }

  close(): Promise<unknown> {
    this.socket.close();
    return this.closed;
  }

  private send(request: QueryRequest): Promise<Answer> {
    const answer = this.expect(request.id);
    this.socket.send(JSON.stringify(request));
    return answer;
  }

  private expect(id: number): Promise<Answer> {
    return new Promise((settle) =>
      this.pending.set(id, { answer: { done: null, error: null, tables: [], elapsedMs: 0 }, started: performance.now(), settle }),
    );
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      const frame = decodeDataFrame(data);
      this.pending.get(frame.requestId)?.answer.tables.push(tableFromIPC(frame.ipc));
      return;
    }
    const parsed = parseMessage(data.toString(), serverMessageValidator);
    if (!parsed.ok) throw new Error(parsed.error);
    const message = parsed.value;
    if (message.type === 'hello') return;
    const entry = message.id === null ? undefined : this.pending.get(message.id);
    if (!entry) {
      if (message.type === 'error') this.unsolicited.push(message);
      return;
    }
    if (message.type === 'done') entry.answer.done = message;
    else entry.answer.error = message;
    entry.answer.elapsedMs = performance.now() - entry.started;
    this.pending.delete(message.id!);
    entry.settle(entry.answer);
  }
}
