import { statSync } from 'node:fs';
import path from 'node:path';
import type { Node } from 'yaml';
import { parseListen } from '../platform/listen-address.js';
import { problemAt, type Ctx, type Problem, type Schema } from '../platform/schema.js';
import { checkDoc, readYaml } from './yaml-file.js';

/** `conf/wparse.yaml`, every key with its default (SPEC section 2). */
export interface EngineConfig {
  version: 1;
  rescue: { path: string; durability: 'fsync' | 'batch' | 'none'; flush_ms: number; max_bytes: number; when_full: 'block' | 'drop_newest' };
  reconnect: { initial_ms: number; max_ms: number; jitter: number };
  performance: { rate_limit_rps: number; batch_size: number };
  recovery: {
    order: 'oldest' | 'newest';
    scan_interval_ms: number;
    idle_exit_ms: number;
    workers: number;
    max_retry: number;
  };
  queue: { dir: string; fsync: 'always' | 'batch' | 'none'; snapshot_interval_ms: number; task_timeout_ms: number; completed_history: number };
  stat: { window_sec: number };
  /** One address per daemon, so wparse and wprescue on one work root both serve metrics. */
  metrics: { wparse: { listen: string }; wprescue: { listen: string } };
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'; file: string };
}

const int = (min: number, max?: number): Schema => ({ kind: 'int', min, ...(max === undefined ? {} : { max }) });

export const ENGINE_SCHEMA: Schema = {
  kind: 'object',
  fields: {
    version: { schema: { kind: 'int', min: 1, max: 1 }, default: 1 },
    rescue: {
      schema: {
        kind: 'object',
        fields: {
          path: { schema: { kind: 'string' }, default: './data/rescue' },
          durability: { schema: { kind: 'string', enum: ['fsync', 'batch', 'none'] }, default: 'batch' },
          flush_ms: { schema: int(1, 60_000), default: 100 },
          max_bytes: { schema: int(0), default: 0 },
          when_full: { schema: { kind: 'string', enum: ['block', 'drop_newest'] }, default: 'block' },
        },
      },
    },
    reconnect: {
      schema: {
        kind: 'object',
        fields: {
          initial_ms: { schema: int(1), default: 100 },
          max_ms: { schema: int(1), default: 5000 },
          jitter: { schema: { kind: 'number', min: 0, max: 1 }, default: 0.2 },
        },
      },
    },
    performance: {
      schema: {
        kind: 'object',
        fields: {
          rate_limit_rps: { schema: int(0), default: 10000 },
          batch_size: { schema: int(1, 1_000_000), default: 512 },
        },
      },
    },
    recovery: {
      schema: {
        kind: 'object',
        fields: {
          order: { schema: { kind: 'string', enum: ['oldest', 'newest'] }, default: 'oldest' },
          scan_interval_ms: { schema: int(10), default: 1000 },
          idle_exit_ms: { schema: int(0), default: 3000 },
          workers: { schema: int(1, 256), default: 2 },
          max_retry: { schema: int(0), default: 5 },
        },
      },
    },
    queue: {
      schema: {
        kind: 'object',
        fields: {
          dir: { schema: { kind: 'string' }, default: './data/.run/queue' },
          fsync: { schema: { kind: 'string', enum: ['always', 'batch', 'none'] }, default: 'batch' },
          snapshot_interval_ms: { schema: int(100), default: 30000 },
          task_timeout_ms: { schema: int(100), default: 600000 },
          completed_history: { schema: int(0), default: 1000 },
        },
      },
    },
    stat: { schema: { kind: 'object', fields: { window_sec: { schema: int(1), default: 60 } } } },
    metrics: {
      schema: {
        kind: 'object',
        fields: {
          wparse: { schema: { kind: 'object', fields: { listen: { schema: { kind: 'string' }, default: '' } } } },
          wprescue: { schema: { kind: 'object', fields: { listen: { schema: { kind: 'string' }, default: '' } } } },
          // the old shared key: accepted by the schema only to be refused below with what to use instead
          listen: { schema: { kind: 'any' } },
        },
      },
    },
    log: {
      schema: {
        kind: 'object',
        fields: {
          level: {
            schema: { kind: 'string', enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
            default: 'info',
          },
          file: { schema: { kind: 'string' }, default: './data/logs/{cmd}.log' },
        },
      },
    },
  },
};

/** Loads `conf/wparse.yaml` under the work root; a missing file means all defaults. */
export function loadEngineConfig(workRoot: string, problems: Problem[]): EngineConfig {
  const file = path.join(workRoot, 'conf', 'wparse.yaml');
  const sub: Problem[] = [];
  const src = readYaml(file, sub);
  problems.push(...sub.filter((p) => p.message !== 'file not found'));
  if (!src) {
    return checkDoc<EngineConfig>({ file, doc: emptyDoc(), lines: undefined as never, emptyVars: new Map() }, ENGINE_SCHEMA, []);
  }
  const cfg = checkDoc<EngineConfig>(src, ENGINE_SCHEMA, problems);
  if (src.doc.errors.length === 0) {
    const at = (...keys: string[]): Node | undefined => src.doc.getIn(['metrics', ...keys], true) as Node | undefined;
    checkMetrics(cfg, at, { file, lines: src.lines, problems });
    checkDirs(cfg, workRoot, (...keys) => src.doc.getIn(keys, true) as Node | undefined, { file, lines: src.lines, problems });
  }
  return cfg;
}

/**
 * The directories the daemons create and write under: one that is a file, or lies under a file,
 * can never work (wparse would pause its input forever, wprescue and wproj would fail with an
 * internal error), so it is a config error, exit 2 before anything runs.
 */
function checkDirs(cfg: EngineConfig, workRoot: string, at: (...keys: string[]) => Node | undefined, ctx: Ctx): void {
  const dirs: Array<[string, string, string | undefined]> = [
    ['rescue', 'path', cfg.rescue?.path],
    ['queue', 'dir', cfg.queue?.dir],
  ];
  for (const [section, key, value] of dirs) {
    if (!value) continue;
    const dir = path.resolve(workRoot, value);
    const file = fileInTheWay(dir);
    if (file === undefined) continue;
    const what = file === dir ? `${dir} is a file, not a directory` : `${dir} lies under ${file}, a file, not a directory`;
    problemAt(ctx, at(section, key), `${section}.${key}`, what);
  }
}

/** The nearest existing path at or above `p` when it is not a directory (undefined when it is). */
function fileInTheWay(p: string): string | undefined {
  for (let cur = p; ; cur = path.dirname(cur)) {
    try {
      return statSync(cur).isDirectory() ? undefined : cur;
    } catch {
      // missing (or under a file: ENOTDIR): look one level up
      if (path.dirname(cur) === cur) return undefined;
    }
  }
}

/** The listen addresses are checked here, with the config, so a malformed one is exit 2 before anything runs. */
function checkMetrics(cfg: EngineConfig, at: (...keys: string[]) => Node | undefined, ctx: Ctx): void {
  const oldKey = at('listen');
  if (oldKey !== undefined) {
    problemAt(ctx, oldKey, 'metrics.listen', 'replaced by one address per daemon: metrics: { wparse: { listen: "127.0.0.1:9464" }, wprescue: { listen: "127.0.0.1:9465" } }');
  }
  for (const cmd of ['wparse', 'wprescue'] as const) {
    const listen = cfg.metrics?.[cmd]?.listen;
    if (!listen) continue;
    const r = parseListen(listen);
    if (typeof r === 'string') problemAt(ctx, at(cmd, 'listen'), `metrics.${cmd}.listen`, r);
  }
}

function emptyDoc(): import('yaml').Document {
  return { contents: null, errors: [] } as unknown as import('yaml').Document;
}

/** Resolves a config path against the work root (absolute paths stay as they are). */
export function resolveIn(workRoot: string, p: string): string {
  return path.resolve(workRoot, p);
}
