import type { SinkTypeSpec } from '../contract.js';
import { parseDuration } from './duration.js';
import { FileSink } from '../file/file-sink.js';
import { FILE_PARAMS, fileOutputPath, fileSinkConfig } from '../file/spec.js';
import { DEFAULT_STAGES, type Stage } from './health-schedule.js';
import { TestRescueSink } from './test-rescue-sink.js';

const STAGE_VALUE = /^(\d+(?:\.\d+)?\s*(?:ms|s|m|h)|\d+\s*lines|forever)$/;
const STAGE_HINT = 'a duration (2s, 500ms), "N lines" or "forever"';

/**
 * `type: test_rescue`: a file sink behind a health schedule, to stage outages on purpose. Replay
 * writes its file directly: the schedule simulates the backend `wparse` saw, not the one replayed to.
 */
export const testRescueSinkType: SinkTypeSpec = {
  params: {
    ...FILE_PARAMS,
    stages: {
      schema: {
        kind: 'array',
        minItems: 1,
        items: {
          kind: 'object',
          fields: {
            healthy: { schema: { kind: 'string', pattern: STAGE_VALUE, patternHint: STAGE_HINT } },
            unhealthy: { schema: { kind: 'string', pattern: STAGE_VALUE, patternHint: STAGE_HINT } },
          },
        },
      },
    },
    repeat: { schema: { kind: 'bool' }, default: false },
    reject: { schema: { kind: 'string' } },
  },
  validate: (p) => [
    ...((p.stages ?? []) as Array<Record<string, string>>).flatMap((st, i) =>
      Object.keys(st).length === 1 ? [] : [`stages[${i}]: give exactly one of healthy or unhealthy`],
    ),
    ...(p.reject === undefined ? [] : regexProblem(p.reject as string)),
  ],
  create: (p, ctx) =>
    new TestRescueSink(
      {
        ...fileSinkConfig(p, ctx.workRoot),
        stages: parseStages(p.stages),
        repeat: p.repeat === true,
        ...(p.reject === undefined ? {} : { reject: new RegExp(p.reject as string) }),
      },
      ctx.clock,
      ctx.fs,
    ),
  createForReplay: (p, ctx) => new FileSink(fileSinkConfig(p, ctx.workRoot), ctx.fs),
  outputPath: fileOutputPath,
};

/** Stages from checked params (each already validated to hold exactly one key). */
export function parseStages(raw: unknown): Stage[] {
  if (raw === undefined) return DEFAULT_STAGES;
  return (raw as Array<Record<string, string>>).map((st) => {
    const healthy = 'healthy' in st;
    const v = String(healthy ? st.healthy : st.unhealthy).trim();
    if (v === 'forever') return { healthy };
    const lines = /^(\d+)\s*lines$/.exec(v);
    if (lines) return { healthy, lines: Number(lines[1]) };
    return { healthy, ms: parseDuration(v)! };
  });
}

function regexProblem(source: string): string[] {
  try {
    new RegExp(source);
    return [];
  } catch (err) {
    return [`reject: invalid regular expression: ${(err as Error).message}`];
  }
}
