import type { Schema } from '../platform/schema.js';

/** Schemas of the work-root files other than conf/wparse.yaml (SPEC sections 1–2). */
import type { Scalar } from '../record.js';

/** A source (SPEC sections 2 and 12); each type's params are checked by sourceParamProblems. */
export type SourceConfig =
  | { key: string; enable: boolean; type: 'file' | 'stdin'; params: FileSourceParams }
  | { key: string; enable: boolean; type: 'nats'; params: NatsSourceParams };

export interface FileSourceParams {
  /** A path or glob, relative to the work root; required for `type: file` (checked on load). */
  path: string;
  from: 'start' | 'end' | 'checkpoint';
  exclude: string[];
  rotate_wait_ms: number;
}

/** `type: nats` (SPEC section 12); defaults are applied by the source, not the schema (file sources share it). */
export interface NatsSourceParams {
  servers: string[];
  stream: string;
  subject?: string;
  consumer: string;
  batch?: number;
  ack_wait_ms?: number;
  max_ack_pending?: number;
  replicas?: number;
  duplicate_window_ms?: number;
  retention?: 'limits' | 'workqueue';
}

const FILE_SOURCE_KEYS = ['path', 'from', 'exclude', 'rotate_wait_ms'];
/** The shared schema's defaults: present on every source, so only a value that differs counts as set by hand. */
const SHARED_DEFAULTS: Record<string, unknown> = { path: '', from: 'checkpoint', exclude: [], rotate_wait_ms: 5000 };
const NATS_SOURCE_KEYS = ['servers', 'stream', 'subject', 'consumer', 'batch', 'ack_wait_ms', 'max_ack_pending', 'replicas', 'duplicate_window_ms', 'retention'];

/** The per-type checks the shared params schema cannot make: keys required by, or foreign to, the type. */
export function sourceParamProblems(type: string, params: Record<string, unknown>): string[] {
  const own = type === 'nats' ? NATS_SOURCE_KEYS : type === 'file' ? FILE_SOURCE_KEYS : [];
  const required = type === 'nats' ? ['servers', 'stream', 'consumer'] : type === 'file' ? ['path'] : [];
  const setByHand = (k: string): boolean => params[k] !== undefined && JSON.stringify(params[k]) !== JSON.stringify(SHARED_DEFAULTS[k]);
  return [
    ...required.filter((k) => !setByHand(k)).map((k) => `params.${k}: missing required key for a ${type} source${type === 'file' ? ' (a path or glob)' : ''}`),
    ...Object.keys(params)
      .filter((k) => setByHand(k) && !own.includes(k))
      .map((k) => `params.${k}: not a ${type} source key`),
  ];
}

export interface RuleConfig {
  name: string;
  regex?: string;
  json?: boolean;
  types?: Record<string, 'int' | 'float' | 'bool' | 'string'>;
}

export interface ConnectorConfig {
  id: string;
  type: string;
  params: Record<string, unknown>;
  allow_override: string[];
}

export interface GroupExpect {
  basis: 'total_input' | 'group_input';
  min_samples: number;
  mode: 'error' | 'warn' | 'ignore';
  sum_tol?: number;
  others_max?: number;
}

export interface SinkExpect {
  ratio?: number;
  tol?: number;
  min?: number;
  max?: number;
}

export interface FilterConfig {
  field: string;
  equals?: Scalar;
  matches?: string;
  in?: Scalar[];
}

export interface RawSinkEntry {
  name?: string;
  connect: string;
  params?: Record<string, unknown>;
  filter?: FilterConfig;
  expect?: SinkExpect;
  tags?: string[];
}

export interface RawGroup {
  name: string;
  rule?: string[];
  expect?: Partial<GroupExpect>;
  tags?: string[];
  sinks: RawSinkEntry[];
}

const NAME_RE = /^[A-Za-z0-9_.-]+$/;
const tags: Schema = { kind: 'array', items: { kind: 'string', pattern: /^[^:]+:.*$/, patternHint: 'a "key:value" tag' } };

export const SOURCES_SCHEMA: Schema = {
  kind: 'object',
  fields: {
    sources: {
      required: true,
      schema: {
        kind: 'array',
        items: {
          kind: 'object',
          fields: {
            key: { required: true, schema: { kind: 'string', pattern: NAME_RE, patternHint: 'a name of [A-Za-z0-9_.-]' } },
            enable: { schema: { kind: 'bool' }, default: true },
            type: { schema: { kind: 'string', enum: ['file', 'stdin', 'nats'] }, default: 'file' },
            params: {
              schema: {
                kind: 'object',
                fields: {
                  path: { schema: { kind: 'string' }, default: '' },
                  from: { schema: { kind: 'string', enum: ['start', 'end', 'checkpoint'] }, default: 'checkpoint' },
                  exclude: { schema: { kind: 'stringOrArray' }, default: [] },
                  rotate_wait_ms: { schema: { kind: 'int', min: 0 }, default: 5000 },
                  servers: { schema: { kind: 'array', items: { kind: 'string' }, minItems: 1 } },
                  stream: { schema: { kind: 'string', pattern: /^[^\s.*>/\\]+$/, patternHint: 'a JetStream stream name' } },
                  subject: { schema: { kind: 'string' } },
                  consumer: { schema: { kind: 'string', pattern: /^[^\s.*>/\\]+$/, patternHint: 'a JetStream consumer name' } },
                  batch: { schema: { kind: 'int', min: 1 } },
                  ack_wait_ms: { schema: { kind: 'int', min: 1000 } },
                  max_ack_pending: { schema: { kind: 'int', min: 1 } },
                  replicas: { schema: { kind: 'int', min: 1, max: 5 } },
                  duplicate_window_ms: { schema: { kind: 'int', min: 1000 } },
                  retention: { schema: { kind: 'string', enum: ['limits', 'workqueue'] } },
                },
              },
            },
          },
        },
      },
    },
  },
};

/** The list alone: wpsrc.yaml may be a bare list of sources, as SPEC section 2 words it. */
export const SOURCE_LIST_SCHEMA: Schema = SOURCES_SCHEMA.fields.sources!.schema;

export const RULES_SCHEMA: Schema = {
  kind: 'object',
  fields: {
    rules: {
      required: true,
      schema: {
        kind: 'array',
        items: {
          kind: 'object',
          fields: {
            name: { required: true, schema: { kind: 'string', pattern: /^\/[A-Za-z0-9_./-]+$/, patternHint: 'a rule name like /nginx/access' } },
            regex: { schema: { kind: 'string' } },
            json: { schema: { kind: 'bool' } },
            types: { schema: { kind: 'map', values: { kind: 'string', enum: ['int', 'float', 'bool', 'string'] } } },
          },
        },
      },
    },
  },
};

export const CONNECTORS_SCHEMA: Schema = {
  kind: 'object',
  fields: {
    connectors: {
      required: true,
      schema: {
        kind: 'array',
        items: {
          kind: 'object',
          fields: {
            id: { required: true, schema: { kind: 'string', pattern: NAME_RE, patternHint: 'an id of [A-Za-z0-9_.-]' } },
            type: { required: true, schema: { kind: 'string' } },
            params: { schema: { kind: 'map', values: { kind: 'any' } }, default: {} },
            allow_override: { schema: { kind: 'array', items: { kind: 'string' } }, default: [] },
          },
        },
      },
    },
  },
};

const GROUP_EXPECT_FIELDS = {
  basis: { schema: { kind: 'string', enum: ['total_input', 'group_input'] } },
  min_samples: { schema: { kind: 'int', min: 0 } },
  mode: { schema: { kind: 'string', enum: ['error', 'warn', 'ignore'] } },
  sum_tol: { schema: { kind: 'number', min: 0 } },
  others_max: { schema: { kind: 'number', min: 0 } },
} as const satisfies Record<string, { schema: Schema }>;

export const DEFAULTS_SCHEMA: Schema = {
  kind: 'object',
  fields: {
    defaults: {
      schema: {
        kind: 'object',
        fields: { tags: { schema: tags, default: [] }, expect: { schema: { kind: 'object', fields: GROUP_EXPECT_FIELDS } } },
      },
    },
  },
};

export const GROUP_SCHEMA: Schema = {
  kind: 'object',
  fields: {
    group: {
      required: true,
      schema: {
        kind: 'object',
        fields: {
          name: { required: true, schema: { kind: 'string', pattern: NAME_RE, patternHint: 'a group name of [A-Za-z0-9_.-]' } },
          rule: { schema: { kind: 'stringOrArray' } },
          expect: { schema: { kind: 'object', fields: GROUP_EXPECT_FIELDS } },
          tags: { schema: tags },
          sinks: {
            required: true,
            schema: {
              kind: 'array',
              items: {
                kind: 'object',
                fields: {
                  name: { schema: { kind: 'string', pattern: /^[A-Za-z0-9_.[\]-]+$/, patternHint: 'a sink name of [A-Za-z0-9_.-]' } },
                  connect: { required: true, schema: { kind: 'string' } },
                  params: { schema: { kind: 'map', values: { kind: 'any' } } },
                  tags: { schema: tags },
                  filter: {
                    schema: {
                      kind: 'object',
                      fields: {
                        field: { required: true, schema: { kind: 'string' } },
                        equals: { schema: { kind: 'scalar' } },
                        matches: { schema: { kind: 'string' } },
                        in: { schema: { kind: 'array', items: { kind: 'scalar' } } },
                      },
                    },
                  },
                  expect: {
                    schema: {
                      kind: 'object',
                      fields: {
                        ratio: { schema: { kind: 'number', min: 0, max: 1 } },
                        tol: { schema: { kind: 'number', min: 0 } },
                        min: { schema: { kind: 'number', min: 0 } },
                        max: { schema: { kind: 'number', min: 0 } },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};
