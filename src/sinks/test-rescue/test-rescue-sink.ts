import type { Clock } from '../../platform/clock.js';
import type { FsPort } from '../../platform/fs-port.js';
import { unavailable, type Rejection, type SinkBackend, type WriteOutcome } from '../contract.js';
import { createFormatter } from '../format.js';
import type { SinkEntry } from '../../record.js';
import { FileSink, type FileSinkConfig } from '../file/file-sink.js';
import { HealthSchedule, type Stage } from './health-schedule.js';

/**
 * A file sink behind a health schedule, to stage outages on purpose. While unhealthy every call,
 * reconnects included, fails before touching the file. With `reject`, records whose formatted line
 * matches the regex are rejected for good (as a 4xx or a constraint violation would be), to stage
 * the `error` group path.
 */
export class TestRescueSink implements SinkBackend {
  readonly type = 'test_rescue';
  private readonly file: FileSink;
  readonly schedule: HealthSchedule;

  private readonly reject: ((e: SinkEntry) => boolean) | undefined;

  constructor(config: FileSinkConfig & { stages: Stage[]; repeat: boolean; reject?: RegExp }, clock: Clock, fs?: FsPort) {
    this.file = new FileSink(config, fs);
    const re = config.reject;
    const format = createFormatter(config.fmt);
    this.reject = re ? (e) => re.test(format(e)) : undefined;
    this.schedule = new HealthSchedule(config.stages, config.repeat, clock);
  }

  async open(): Promise<void> {
    if (!this.schedule.isHealthy()) throw new Error('test_rescue: unhealthy (scheduled)');
    await this.file.open();
  }

  async write(entries: SinkEntry[]): Promise<WriteOutcome> {
    const ok = this.schedule.takeHealthy(entries.length);
    if (ok === 0) return unavailable('test_rescue: unhealthy (scheduled)');
    const head = ok === entries.length ? entries : entries.slice(0, ok);
    const rejected: Rejection[] = [];
    const kept: SinkEntry[] = [];
    head.forEach((e, index) => (this.reject?.(e) ? rejected.push({ index, reason: 'test_rescue: rejected (matches reject)' }) : kept.push(e)));
    const res = await this.file.write(kept);
    if (res.status !== 'ok') return res;
    const withRejected = rejected.length ? { rejected } : {};
    return ok === entries.length ? { status: 'ok', ...withRejected } : { ...unavailable('test_rescue: became unhealthy (scheduled)', ok), ...withRejected };
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
