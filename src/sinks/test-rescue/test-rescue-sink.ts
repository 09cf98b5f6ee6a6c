import type { Clock } from '../../platform/clock.js';
import type { FsPort } from '../../platform/fs-port.js';
import { unavailable, type SinkBackend, type WriteOutcome } from '../contract.js';
import type { SinkEntry } from '../../record.js';
import { FileSink, type FileSinkConfig } from '../file/file-sink.js';
import { HealthSchedule, type Stage } from './health-schedule.js';

/**
 * A file sink behind a health schedule, to stage outages on purpose. While unhealthy every call,
 * reconnects included, fails before touching the file.
 */
export class TestRescueSink implements SinkBackend {
  readonly type = 'test_rescue';
  private readonly file: FileSink;
  readonly schedule: HealthSchedule;

  constructor(config: FileSinkConfig & { stages: Stage[]; repeat: boolean }, clock: Clock, fs?: FsPort) {
    this.file = new FileSink(config, fs);
    this.schedule = new HealthSchedule(config.stages, config.repeat, clock);
  }

  async open(): Promise<void> {
    if (!this.schedule.isHealthy()) throw new Error('test_rescue: unhealthy (scheduled)');
    await this.file.open();
  }

  async write(entries: SinkEntry[]): Promise<WriteOutcome> {
    const ok = this.schedule.takeHealthy(entries.length);
    if (ok === 0) return unavailable('test_rescue: unhealthy (scheduled)');
    const res = await this.file.write(ok === entries.length ? entries : entries.slice(0, ok));
    if (res.status !== 'ok') return res;
    return ok === entries.length ? res : unavailable('test_rescue: became unhealthy (scheduled)', ok);
  }

  /** The failover runtime reports records it rescued instead of offering them here. */
  offeredElsewhere(n: number): void {
    this.schedule.offered(n);
  }

  async reconnect(): Promise<boolean> {
    if (!this.schedule.isHealthy()) return false;
    return this.file.reconnect();
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}
