// The one assignment a session process may have in flight (contract.ts, 2): settled by its
// `ready` or `startup-failed`, by the process's exit, or by the startup timeout. Every runtime's
// process keeps one, so each says the same thing when a store does not open.
import type { SessionAssignment, StoreSettings } from '../../session/contract.js';

export class PendingAssignment {
  private waiter: { resolve: (preopened: boolean) => void; reject: (error: Error) => void } | null = null;

  /**
   * Sends the assignment and waits for its answer. `onOpened` hears the store of an assignment
   * that opened: only such a store is worth opening ahead for the next tab.
   */
  start(
    assignment: SessionAssignment,
    timeoutMs: number,
    send: () => void,
    onOpened: (store: StoreSettings) => void,
    where = 'session process',
  ): Promise<{ storePreopened: boolean }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`${where} did not open its store within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = {
        resolve: (storePreopened) => {
          clearTimeout(timer);
          const { storePath, memoryLimit, threads, answerCache } = assignment;
          onOpened({ storePath, memoryLimit, threads, ...(answerCache ? { answerCache } : {}) });
          resolve({ storePreopened });
        },
        reject: (error) => (clearTimeout(timer), reject(error)),
      };
      send();
    });
  }

  /** The process said `ready`. */
  ready(preopened: boolean): void {
    this.waiter?.resolve(preopened);
    this.waiter = null;
  }

  /** `startup-failed`, or the process is gone. */
  fail(error: Error): void {
    this.waiter?.reject(error);
    this.waiter = null;
  }
}
