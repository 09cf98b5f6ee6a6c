import path from 'node:path';
import { WrError } from '../errors.js';
import type { Field, Schema } from '../config/schema.js';
import type { Clock } from '../platform/clock.js';
import type { FsPort } from '../platform/fs-port.js';
import { BlackholeSink } from './blackhole/blackhole-sink.js';
import type { SinkBackend } from './contract.js';
import { parseDuration } from './duration.js';
import { FileSink } from './file/file-sink.js';
import { FORMATS, type FormatName } from './format.js';
import { TcpSink } from './tcp/tcp-sink.js';
import { DEFAULT_STAGES, type Stage } from './test-rescue/health-schedule.js';
import { TestRescueSink } from './test-rescue/test-rescue-sink.js';

/**
 * Every sink type: its params (schema with defaults, checked with file:line:col at load) and a
 * factory that builds the backend from checked params. Adding a type means adding one entry here.
 */
export interface SinkBuildContext {
  workRoot: string;
  /** `replay` (wprescue): test_rescue's outage schedule simulates the backend seen by wparse, so replay writes its file directly. */
  mode?: 'pipeline' | 'replay';
  clock: Clock;
  fs?: FsPort;
}

export interface SinkTypeSpec {
  params: Record<string, Field>;
  create(params: Record<string, unknown>, ctx: SinkBuildContext): SinkBackend;
  /** Where the sink writes, for `wproj stat` (file-like sinks only). */
  outputPath?(params: Record<string, unknown>, workRoot: string): string;
}

const STAGE_VALUE = /^(\d+(?:\.\d+)?\s*(?:ms|s|m|h)|\d+\s*lines|forever)$/;
const fileParams: Record<string, Field> = {
  base: { schema: { kind: 'string' }, default: './data/out_dat' },
  file: { schema: { kind: 'string' }, required: true },
  fmt: { schema: { kind: 'string', enum: FORMATS }, default: 'json' },
  sync: { schema: { kind: 'bool' }, default: false },
};

const filePath = (p: Record<string, unknown>, workRoot: string): string => path.resolve(workRoot, String(p.base), String(p.file));

export const SINK_TYPES: Record<string, SinkTypeSpec> = {
  file: {
    params: fileParams,
    create: (p, ctx) => new FileSink({ path: filePath(p, ctx.workRoot), fmt: p.fmt as FormatName, sync: p.sync === true }, ctx.fs),
    outputPath: filePath,
  },
  test_rescue: {
    params: {
      ...fileParams,
      stages: {
        schema: {
          kind: 'array',
          minItems: 1,
          items: {
            kind: 'object',
            fields: {
              healthy: { schema: { kind: 'string', pattern: STAGE_VALUE, patternHint: 'a duration (2s, 500ms), "N lines" or "forever"' } },
              unhealthy: { schema: { kind: 'string', pattern: STAGE_VALUE, patternHint: 'a duration (2s, 500ms), "N lines" or "forever"' } },
            },
          },
        },
      },
      repeat: { schema: { kind: 'bool' }, default: false },
    },
    create: (p, ctx) =>
      ctx.mode === 'replay'
        ? new FileSink({ path: filePath(p, ctx.workRoot), fmt: p.fmt as FormatName, sync: p.sync === true }, ctx.fs)
        : new TestRescueSink(
        { path: filePath(p, ctx.workRoot), fmt: p.fmt as FormatName, sync: p.sync === true, stages: parseStages(p.stages), repeat: p.repeat === true },
        ctx.clock,
        ctx.fs,
      ),
    outputPath: filePath,
  },
  blackhole: { params: {}, create: () => new BlackholeSink() },
  tcp: {
    params: {
      host: { schema: { kind: 'string' }, default: '127.0.0.1' },
      port: { schema: { kind: 'int', min: 1, max: 65535 }, required: true },
      fmt: { schema: { kind: 'string', enum: FORMATS }, default: 'json' },
      resend_window: { schema: { kind: 'int', min: 0 }, default: 4 * 1024 * 1024 },
      timeout_ms: { schema: { kind: 'int', min: 1 }, default: 5000 },
    },
    create: (p) =>
      new TcpSink({
        host: String(p.host),
        port: Number(p.port),
        fmt: p.fmt as FormatName,
        resendWindow: Number(p.resend_window),
        timeoutMs: Number(p.timeout_ms),
      }),
  },
};

export function parseStages(raw: unknown): Stage[] {
  if (raw === undefined) return DEFAULT_STAGES;
  return (raw as Array<Record<string, string>>).map((st, i) => {
    const keys = Object.keys(st);
    if (keys.length !== 1) throw new WrError('CONFIG_INVALID', `test_rescue stages[${i}]: give exactly one of healthy or unhealthy`);
    const healthy = keys[0] === 'healthy';
    const v = String(st[keys[0]!]).trim();
    if (v === 'forever') return { healthy };
    const lines = /^(\d+)\s*lines$/.exec(v);
    if (lines) return { healthy, lines: Number(lines[1]) };
    return { healthy, ms: parseDuration(v)! };
  });
}

/** The param schema of a type with nothing required (for connector defaults and overrides). */
export function paramsSchema(type: string, requireAll: boolean): Schema {
  const spec = SINK_TYPES[type];
  const fields: Record<string, Field> = {};
  for (const [k, f] of Object.entries(spec?.params ?? {})) fields[k] = requireAll ? f : { schema: f.schema };
  return { kind: 'object', fields };
}
