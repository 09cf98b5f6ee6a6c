import { OK, type SinkBackend, type WriteOutcome } from '../contract.js';

/** Accepts and discards everything; for benchmarks and for groups whose output is not wanted. */
export class BlackholeSink implements SinkBackend {
  readonly type = 'blackhole';
  async open(): Promise<void> {}
  async write(): Promise<WriteOutcome> {
    return OK;
  }
  async reconnect(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
}
