import { jetstreamManager, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { WorkRoot } from '../config/work-root.js';
import { errorMessage, WrError } from '../errors.js';
import { connectNats } from '../sinks/nats/connection.js';

/** A stream the config names (in a `type: nats` source or sink), with the settings to create it with. */
export interface StreamPlan {
  name: string;
  servers: string[];
  subjects: string[];
  replicas: number;
  duplicateWindowMs: number;
  retention: 'limits' | 'workqueue';
  /** Where the config names it: `source <key>` or `sink <group>/<sink>`. */
  usedBy: string[];
}

export interface StreamInitResult {
  stream: string;
  action: 'created' | 'exists';
  /** For an existing stream: where it differs from the plan (it is left as it is). */
  diff: string[];
  plan: StreamPlan;
}

/**
 * The streams to create, one per (servers, stream name), subjects merged from every source filter
 * and sink subject that names it; a source without a subject takes `<stream>.>`. Pure.
 */
export function natsStreamPlans(wr: WorkRoot): StreamPlan[] {
  const plans = new Map<string, StreamPlan>();
  const add = (p: Record<string, unknown>, subject: string | undefined, usedBy: string): void => {
    const servers = (p.servers as unknown[]).map(String);
    const name = String(p.stream);
    const id = `${servers.join(',')}|${name}`;
    const plan = plans.get(id) ?? {
      name,
      servers,
      subjects: [],
      replicas: Number(p.replicas ?? 3),
      duplicateWindowMs: Number(p.duplicate_window_ms ?? 120_000),
      retention: p.retention === 'workqueue' ? 'workqueue' : 'limits',
      usedBy: [],
    };
    const subj = subject ?? `${name}.>`;
    if (!plan.subjects.includes(subj)) plan.subjects.push(subj);
    plan.usedBy.push(usedBy);
    plans.set(id, plan);
  };
  for (const s of wr.sources) if (s.type === 'nats') add(s.params as unknown as Record<string, unknown>, s.params.subject, `source ${s.key}`);
  for (const g of wr.groups) for (const s of g.sinks) if (s.type === 'nats') add(s.params, String(s.params.subject), `sink ${s.key}`);
  return [...plans.values()];
}

/** `wproj nats init`: creates each planned stream that does not exist; an existing one is never changed. */
export async function natsInit(plans: StreamPlan[], timeoutMs = 10_000): Promise<StreamInitResult[]> {
  const out: StreamInitResult[] = [];
  for (const plan of plans) {
    let nc;
    try {
      nc = await connectNats(plan.servers, 'warp-rescue wproj nats init', timeoutMs);
    } catch (err) {
      throw new WrError('NATS_INIT_FAILED', `nats init: cannot connect to ${plan.servers.join(',')}: ${errorMessage(err)}`, err);
    }
    try {
      const jsm = await jetstreamManager(nc, { timeout: timeoutMs });
      const want: Partial<StreamConfig> & { name: string } = {
        name: plan.name,
        subjects: plan.subjects,
        num_replicas: plan.replicas,
        storage: StorageType.File,
        retention: plan.retention === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
        duplicate_window: nanos(plan.duplicateWindowMs),
      };
      try {
        const have = (await jsm.streams.info(plan.name)).config;
        const diff: string[] = [];
        for (const s of plan.subjects) if (!have.subjects?.includes(s)) diff.push(`subject ${s} missing`);
        if (have.num_replicas !== plan.replicas) diff.push(`replicas ${have.num_replicas}, config says ${plan.replicas}`);
        if (have.duplicate_window !== want.duplicate_window) diff.push(`duplicate_window ${have.duplicate_window / 1e6} ms, config says ${plan.duplicateWindowMs} ms`);
        if (have.retention !== want.retention) diff.push(`retention ${have.retention}, config says ${want.retention}`);
        out.push({ stream: plan.name, action: 'exists', diff, plan });
      } catch (err) {
        if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
        await jsm.streams.add(want);
        out.push({ stream: plan.name, action: 'created', diff: [], plan });
      }
    } catch (err) {
      if (err instanceof WrError) throw err;
      throw new WrError('NATS_INIT_FAILED', `nats init: stream ${plan.name}: ${errorMessage(err)}`, err);
    } finally {
      await nc.close();
    }
  }
  return out;
}
