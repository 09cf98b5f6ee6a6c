import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { VERSION } from '../platform/version.js';

/**
 * Every metric of SPEC section 8, created once per process. Hot paths keep the labelled child they
 * need (`.labels(...)` once at setup), never look one up per line. A daemon passes its own name as
 * `only`: its registry then holds its own families (the other tool's objects exist but are not
 * registered, so shared code may still count into them), prom-client's default process metrics and
 * `warp_rescue_build_info{version}`. Without `only` every family is registered (tests).
 */
export function createMetrics(registry = new Registry(), only?: 'wparse' | 'wprescue') {
  const own = (name: string): { registers: Registry[] } => ({ registers: only === undefined || name.startsWith(`${only}_`) ? [registry] : [] });
  const sinkLabels = ['group', 'sink'] as const;
  // what the backlog gauges are computed from lives in wprescue's StatReporter: it registers here
  // and runs at every scrape, so the gauges are current whether or not --stat is given
  const scrape: { backlog?: () => void } = {};
  if (only) {
    collectDefaultMetrics({ register: registry });
    new Gauge({ name: 'warp_rescue_build_info', help: 'Always 1; the version label says which build runs', labelNames: ['version'], registers: [registry] }).labels(VERSION).set(1);
  }
  return {
    registry,
    onBacklogScrape: (fn: () => void): void => void (scrape.backlog = fn),
    linesIn: new Counter({ name: 'wparse_lines_in_total', help: 'Lines read per source', labelNames: ['source'], ...own('wparse_lines_in_total') }),
    recordsOut: new Counter({ name: 'wparse_records_out_total', help: 'Records delivered per sink', labelNames: sinkLabels, ...own('wparse_records_out_total') }),
    failoverActive: new Gauge({ name: 'wparse_sink_failover_active', help: '1 while the sink writes to rescue', labelNames: sinkLabels, ...own('wparse_sink_failover_active') }),
    rescueLines: new Counter({ name: 'wparse_rescue_lines_total', help: 'Records written to rescue files', labelNames: sinkLabels, ...own('wparse_rescue_lines_total') }),
    rescueBytes: new Gauge({ name: 'wparse_rescue_bytes', help: 'Bytes on disk under the rescue directory', ...own('wparse_rescue_bytes') }),
    rescueMaxBytes: new Gauge({ name: 'wparse_rescue_max_bytes', help: 'rescue.max_bytes (0 = no cap)', ...own('wparse_rescue_max_bytes') }),
    rescueDropped: new Counter({ name: 'wparse_rescue_dropped_total', help: 'Records dropped because the rescue directory was full (when_full: drop_newest)', labelNames: sinkLabels, ...own('wparse_rescue_dropped_total') }),
    natsFetched: new Counter({ name: 'wparse_nats_fetched_total', help: 'Messages fetched from a NATS source', labelNames: ['source'], ...own('wparse_nats_fetched_total') }),
    natsAcked: new Counter({ name: 'wparse_nats_acked_total', help: 'NATS messages acked (delivered or durable in rescue)', labelNames: ['source'], ...own('wparse_nats_acked_total') }),
    natsRedelivered: new Counter({ name: 'wparse_nats_redelivered_total', help: 'NATS messages fetched again after an ack timeout or nak', labelNames: ['source'], ...own('wparse_nats_redelivered_total') }),
    natsPending: new Gauge({ name: 'wparse_nats_pending', help: 'Messages of the stream not yet delivered to the consumer', labelNames: ['source'], ...own('wparse_nats_pending') }),
    replayedLines: new Counter({ name: 'wprescue_replayed_lines_total', help: 'Rescue lines replayed into their sink', labelNames: sinkLabels, ...own('wprescue_replayed_lines_total') }),
    backlogLines: new Gauge({ name: 'wprescue_backlog_lines', help: 'Rescue lines not yet replayed', labelNames: sinkLabels, collect: () => scrape.backlog?.(), ...own('wprescue_backlog_lines') }),
    backlogOldest: new Gauge({ name: 'wprescue_backlog_oldest_seconds', help: 'Age of the oldest rescue file waiting', ...own('wprescue_backlog_oldest_seconds') }),
    rateLimit: new Gauge({ name: 'wprescue_replay_rate_limit', help: 'Replay rate limit in lines/s (0 = unlimited)', ...own('wprescue_replay_rate_limit') }),
    jobsEnqueued: new Counter({ name: 'wprescue_jobs_enqueued_total', help: 'Jobs enqueued', ...own('wprescue_jobs_enqueued_total') }),
    jobsDispatched: new Counter({ name: 'wprescue_jobs_dispatched_total', help: 'Jobs dispatched to a worker', ...own('wprescue_jobs_dispatched_total') }),
    jobsCompleted: new Counter({ name: 'wprescue_jobs_completed_total', help: 'Jobs completed', ...own('wprescue_jobs_completed_total') }),
    jobsRetried: new Counter({ name: 'wprescue_jobs_retried_total', help: 'Job attempts that failed and were retried', ...own('wprescue_jobs_retried_total') }),
    jobsDead: new Counter({ name: 'wprescue_jobs_dead_total', help: 'Jobs that ended dead', ...own('wprescue_jobs_dead_total') }),
    jobsTimeout: new Counter({ name: 'wprescue_jobs_timeout_total', help: 'In-flight jobs requeued after task_timeout_ms', ...own('wprescue_jobs_timeout_total') }),
    jobDuration: new Histogram({ name: 'wprescue_job_duration_seconds', help: 'Time a job spent in flight', buckets: [0.01, 0.1, 1, 10, 60, 600], ...own('wprescue_job_duration_seconds') }),
    queueDepth: new Gauge({ name: 'wprescue_queue_depth', help: 'Pending jobs', ...own('wprescue_queue_depth') }),
    inFlight: new Gauge({ name: 'wprescue_in_flight_jobs', help: 'Jobs in flight', ...own('wprescue_in_flight_jobs') }),
    poolSize: new Gauge({ name: 'wprescue_worker_pool_size', help: 'Worker slots', ...own('wprescue_worker_pool_size') }),
    recoveryDuration: new Gauge({ name: 'wprescue_recovery_duration_seconds', help: 'Queue start-up recovery time (snapshot + WAL)', ...own('wprescue_recovery_duration_seconds') }),
    walFsync: new Histogram({ name: 'wprescue_wal_fsync_duration_seconds', help: 'WAL fdatasync latency', buckets: [0.0001, 0.0005, 0.001, 0.005, 0.02, 0.1, 1], ...own('wprescue_wal_fsync_duration_seconds') }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Every metric name, for the README check. */
export const METRIC_NAMES = [
  'wparse_lines_in_total', 'wparse_records_out_total', 'wparse_sink_failover_active', 'wparse_rescue_lines_total',
  'wparse_rescue_bytes', 'wparse_rescue_max_bytes', 'wparse_rescue_dropped_total',
  'wprescue_replayed_lines_total', 'wprescue_backlog_lines', 'wprescue_backlog_oldest_seconds', 'wprescue_replay_rate_limit',
  'wprescue_jobs_enqueued_total', 'wprescue_jobs_dispatched_total', 'wprescue_jobs_completed_total', 'wprescue_jobs_retried_total',
  'wprescue_jobs_dead_total', 'wprescue_jobs_timeout_total', 'wprescue_job_duration_seconds', 'wprescue_queue_depth',
  'wprescue_in_flight_jobs', 'wprescue_worker_pool_size', 'wprescue_recovery_duration_seconds', 'wprescue_wal_fsync_duration_seconds',
  'wparse_nats_fetched_total', 'wparse_nats_acked_total', 'wparse_nats_redelivered_total', 'wparse_nats_pending',
] as const;
