import type { Schema, Field } from '../platform/schema.js';
import { blackholeSinkType } from './blackhole/spec.js';
import type { SinkTypeSpec } from './contract.js';
import { fileSinkType } from './file/spec.js';
import { httpSinkType } from './http/spec.js';
import { postgresSinkType } from './postgres/spec.js';
import { natsSinkType } from './nats/spec.js';
import { tcpSinkType } from './tcp/spec.js';
import { testRescueSinkType } from './test-rescue/spec.js';

/** Every sink type by its `type:` name. Adding a type means adding its folder and one line here. */
export const SINK_TYPES: Record<string, SinkTypeSpec> = {
  file: fileSinkType,
  test_rescue: testRescueSinkType,
  blackhole: blackholeSinkType,
  tcp: tcpSinkType,
  http: httpSinkType,
  postgres: postgresSinkType,
  nats: natsSinkType,
};

/** The param schema of a type, optionally with nothing required (connector defaults, overrides). */
export function paramsSchema(type: string, requireAll: boolean): Schema {
  const spec = SINK_TYPES[type];
  const fields: Record<string, Field> = {};
  for (const [k, f] of Object.entries(spec?.params ?? {})) fields[k] = requireAll ? f : { schema: f.schema };
  return { kind: 'object', fields };
}
