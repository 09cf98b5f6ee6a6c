import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every metric of SPEC section 8, created once per process on one registry. Hot paths keep the
 * labelled child they need (`.labels(...)` once at setup), never look one up per line.
 */
export function createMetrics(registry = new Registry()) {
  const r = { registers: [registry] };
  const sinkLabels = ['group', 'sink'] as const;
  return {
    registry,
    linesIn: new Counter({ name: 'wparse_lines_in_total', help: 'Lines read per source', labelNames: ['source'], ...r }),
    recordsOut: new Counter({ name: 'wparse_records_out_total', help: 'Records delivered per sink', labelNames: sinkLabels, ...r }),
    failoverActive: new Gauge({ name: 'wparse_sink_failover_active', help: '1 while the sink writes to rescue', labelNames: sinkLabels, ...r }),
    rescueLines: new Counter({ name: 'wparse_rescue_lines_total', help: 'Records written to rescue files', labelNames: sinkLabels, ...r }),
    replayedLines: new Counter({ name: 'wprescue_replayed_lines_total', help: 'Rescue lines replayed into their sink', labelNames: sinkLabels, ...r }),
    backlogLines: new Gauge({ name: 'wprescue_backlog_lines', help: 'Rescue lines not yet replayed', labelNames: sinkLabels, ...r }),
    backlogOldest: new Gauge({ name: 'wprescue_backlog_oldest_seconds', help: 'Age of the oldest rescue file waiting', ...r }),
    rateLimit: new Gauge({ name: 'wprescue_replay_rate_limit', help: 'Replay rate limit in lines/s (0 = unlimited)', ...r }),
    jobsEnqueued: new Counter({ name: 'wprescue_jobs_enqueued_total', help: 'Jobs enqueued', ...r }),
    jobsDispatched: new Counter({ name: 'wprescue_jobs_dispatched_total', help: 'Jobs dispatched to a worker', ...r }),
    jobsCompleted: new Counter({ name: 'wprescue_jobs_completed_total', help: 'Jobs completed', ...r }),
    jobsRetried: new Counter({ name: 'wprescue_jobs_retried_total', help: 'Job attempts that failed and were retried', ...r }),
    jobsDead: new Counter({ name: 'wprescue_jobs_dead_total', help: 'Jobs that ended dead', ...r }),
    jobsTimeout: new Counter({ name: 'wprescue_jobs_timeout_total', help: 'In-flight jobs requeued after task_timeout_ms', ...r }),
    jobDuration: new Histogram({ name: 'wprescue_job_duration_seconds', help: 'Time a job spent in flight', buckets: [0.01, 0.1, 1, 10, 60, 600], ...r }),
    queueDepth: new Gauge({ name: 'wprescue_queue_depth', help: 'Pending jobs', ...r }),
    inFlight: new Gauge({ name: 'wprescue_in_flight_jobs', help: 'Jobs in flight', ...r }),
    poolSize: new Gauge({ name: 'wprescue_worker_pool_size', help: 'Worker slots', ...r }),
    recoveryDuration: new Gauge({ name: 'wprescue_recovery_duration_seconds', help: 'Queue start-up recovery time (snapshot + WAL)', ...r }),
    natsFetched: new Counter({ name: 'wparse_nats_fetched_total', help: 'Messages fetched from a NATS source', labelNames: ['source'], ...r }),
    natsAcked: new Counter({ name: 'wparse_nats_acked_total', help: 'NATS messages acked (delivered or durable in rescue)', labelNames: ['source'], ...r }),
    natsRedelivered: new Counter({ name: 'wparse_nats_redelivered_total', help: 'NATS messages fetched again after an ack timeout or nak', labelNames: ['source'], ...r }),
    natsPending: new Gauge({ name: 'wparse_nats_pending', help: 'Messages of the stream not yet delivered to the consumer', labelNames: ['source'], ...r }),
    walFsync: new Histogram({ name: 'wprescue_wal_fsync_duration_seconds', help: 'WAL fdatasync latency', buckets: [0.0001, 0.0005, 0.001, 0.005, 0.02, 0.1, 1], ...r }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Every metric name, for the README check. */
export const METRIC_NAMES = [
  'wparse_lines_in_total', 'wparse_records_out_total', 'wparse_sink_failover_active', 'wparse_rescue_lines_total',
  'wprescue_replayed_lines_total', 'wprescue_backlog_lines', 'wprescue_backlog_oldest_seconds', 'wprescue_replay_rate_limit',
  'wprescue_jobs_enqueued_total', 'wprescue_jobs_dispatched_total', 'wprescue_jobs_completed_total', 'wprescue_jobs_retried_total',
  'wprescue_jobs_dead_total', 'wprescue_jobs_timeout_total', 'wprescue_job_duration_seconds', 'wprescue_queue_depth',
  'wprescue_in_flight_jobs', 'wprescue_worker_pool_size', 'wprescue_recovery_duration_seconds', 'wprescue_wal_fsync_duration_seconds',
  'wparse_nats_fetched_total', 'wparse_nats_acked_total', 'wparse_nats_redelivered_total', 'wparse_nats_pending',
] as const;
