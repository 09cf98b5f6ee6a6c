import path from 'node:path';
import type { Field } from '../../platform/schema.js';
import type { SinkBuildContext, SinkTypeSpec } from '../contract.js';
import { FORMATS, type FormatName } from '../format.js';
import { FileSink, type FileSinkConfig } from './file-sink.js';

/** `type: file` params (SPEC section 3). */
export const FILE_PARAMS: Record<string, Field> = {
  base: { schema: { kind: 'string' }, default: './data/out_dat' },
  file: { schema: { kind: 'string' }, required: true },
  fmt: { schema: { kind: 'string', enum: FORMATS }, default: 'json' },
  sync: { schema: { kind: 'bool' }, default: false },
};

export function fileOutputPath(p: Record<string, unknown>, workRoot: string): string {
  return path.resolve(workRoot, String(p.base), String(p.file));
}

export function fileSinkConfig(p: Record<string, unknown>, workRoot: string): FileSinkConfig {
  return { path: fileOutputPath(p, workRoot), fmt: p.fmt as FormatName, sync: p.sync === true };
}

export const fileSinkType: SinkTypeSpec = {
  params: FILE_PARAMS,
  create: (p, ctx: SinkBuildContext) => new FileSink(fileSinkConfig(p, ctx.workRoot), ctx.fs),
  outputPath: fileOutputPath,
};
