import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { captureNames } from '../platform/capture-names.js';
import { isValidSinkName } from '../rescue/file-name.js';
import { classify } from '../rescue/layout.js';
import { serverProblems } from '../sinks/nats/connection.js';
import { SINK_TYPES, paramsSchema } from '../sinks/registry.js';
import { loadEngineConfig, type EngineConfig } from './engine-config.js';
import { check, problemAt, type Ctx, type Problem } from '../platform/schema.js';
import {
  CONNECTORS_SCHEMA, DEFAULTS_SCHEMA, GROUP_SCHEMA, RULES_SCHEMA, SOURCE_LIST_SCHEMA, SOURCES_SCHEMA, sourceParamProblems,
  type ConnectorConfig, type FilterConfig, type GroupExpect, type RawGroup, type RuleConfig, type SinkExpect, type SourceConfig,
} from './work-root-schema.js';
import { checkDoc, readYaml, throwIfProblems, type YamlSource } from './yaml-file.js';

export const INFRA_GROUPS = ['default', 'miss', 'error', 'monitor'] as const;
export type InfraGroup = (typeof INFRA_GROUPS)[number];

export interface SinkSpec {
  group: string;
  name: string;
  /** `<group>/<name>`: the rescue sub-path and the key in stats. */
  key: string;
  type: string;
  connector: string;
  params: Record<string, unknown>;
  filter?: FilterConfig;
  expect?: SinkExpect;
  tags: Array<[string, string]>;
}

export interface GroupSpec {
  name: string;
  kind: 'business' | 'infra';
  file: string;
  rule: string[];
  expect: GroupExpect;
  tags: Array<[string, string]>;
  sinks: SinkSpec[];
}

export interface WorkRoot {
  root: string;
  engine: EngineConfig;
  sources: SourceConfig[];
  rules: RuleConfig[];
  connectors: Map<string, ConnectorConfig>;
  groups: GroupSpec[];
}

const DEFAULT_EXPECT: GroupExpect = { basis: 'total_input', min_samples: 0, mode: 'error' };

function yamlFiles(dir: string, recursive: boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) {
      if (recursive) out.push(...yamlFiles(full, true));
    } else if (/\.ya?ml$/.test(name)) out.push(full);
  }
  return out;
}

const parseTags = (tags: string[] | undefined): Array<[string, string]> =>
  (tags ?? []).map((t) => {
    const i = t.indexOf(':');
    return [t.slice(0, i).trim(), t.slice(i + 1).trim()];
  });

/** Loads and checks the whole work root; `problems` gets every problem found, not only the first. */
export function collectWorkRoot(root: string, problems: Problem[]): WorkRoot {
  if (!existsSync(root)) {
    problems.push({ file: root, line: 1, col: 1, key: '', message: 'work root does not exist' });
  }
  const engine = loadEngineConfig(root, problems);
  const sources = loadSources(root, problems);
  const rules = loadRules(root, problems);
  // ids of connectors whose type is unknown: their one problem is reported, not again per sink using them
  const broken = new Set<string>();
  const connectors = loadConnectors(root, problems, broken);
  const defaultsFile = path.join(root, 'sink', 'defaults.yaml');
  let defaults: { tags: string[]; expect?: Partial<GroupExpect> } = { tags: [] };
  if (existsSync(defaultsFile)) {
    const src = readYaml(defaultsFile, problems);
    if (src) defaults = checkDoc<{ defaults: typeof defaults }>(src, DEFAULTS_SCHEMA, problems).defaults ?? defaults;
  }
  const groups: GroupSpec[] = [];
  const seen = new Map<string, string>();
  const load = (file: string, kind: GroupSpec['kind']): void => {
    const src = readYaml(file, problems);
    if (!src) return;
    const raw = checkDoc<{ group?: RawGroup }>(src, GROUP_SCHEMA, problems).group;
    if (!raw?.name || !raw.sinks) return;
    const ctx: Ctx = { file, lines: src.lines, problems };
    const nameNode = src.doc.getIn(['group', 'name'], true) as Node;
    if (seen.has(raw.name)) problemAt(ctx, nameNode, 'group.name', `group ${JSON.stringify(raw.name)} is already defined in ${seen.get(raw.name)}`);
    seen.set(raw.name, file);
    // the name is the group's directory under rescue.path: one wprescue skips (dead/, its lock files)
    // or that leaves it (`.`, `..`) would leave the group's rescue files never replayed
    if (raw.name === '.' || raw.name === '..' || classify(raw.name) !== 'foreign') {
      problemAt(ctx, nameNode, 'group.name', `group name ${JSON.stringify(raw.name)} is reserved: it names the group's rescue directory, and wprescue would never replay files there`);
    }
    if (kind === 'infra' && !(INFRA_GROUPS as readonly string[]).includes(raw.name)) {
      problemAt(ctx, nameNode, 'group.name', `infra groups are ${INFRA_GROUPS.join(', ')}; got ${JSON.stringify(raw.name)}`);
    }
    if (kind === 'infra' && raw.rule) problemAt(ctx, src.doc.getIn(['group', 'rule'], true) as Node, 'group.rule', 'infra groups take no rule');
    if (kind === 'business' && !raw.rule?.length) problemAt(ctx, nameNode, 'group.rule', 'business groups need at least one rule glob');
    groups.push({
      name: raw.name,
      kind,
      file,
      rule: raw.rule ?? [],
      expect: { ...DEFAULT_EXPECT, ...defaults.expect, ...raw.expect },
      tags: parseTags([...defaults.tags, ...(raw.tags ?? [])]),
      sinks: resolveSinks(raw, src, connectors, ctx, broken),
    });
  };
  for (const f of yamlFiles(path.join(root, 'sink', 'business.d'), true)) load(f, 'business');
  for (const f of yamlFiles(path.join(root, 'sink', 'infra.d'), false)) load(f, 'infra');
  return { root, engine, sources, rules, connectors, groups };
}

/** Loads the work root or throws CONFIG_INVALID naming the first problem. */
export function loadWorkRoot(root: string): WorkRoot {
  const problems: Problem[] = [];
  const wr = collectWorkRoot(root, problems);
  throwIfProblems(problems);
  return wr;
}

function loadSources(root: string, problems: Problem[]): SourceConfig[] {
  const file = path.join(root, 'conf', 'wpsrc.yaml');
  if (!existsSync(file)) return [];
  const src = readYaml(file, problems);
  if (!src) return [];
  // SPEC section 2 calls wpsrc.yaml "a list of sources": a bare list reads as the `sources:` key does
  const bare = isSeq(src.doc.contents);
  const list = (bare ? checkDoc<SourceConfig[] | undefined>(src, SOURCE_LIST_SCHEMA, problems) : checkDoc<{ sources?: SourceConfig[] }>(src, SOURCES_SCHEMA, problems).sources) ?? [];
  const node = (...keys: Array<string | number>): Node => src.doc.getIn([...(bare ? [] : ['sources']), ...keys], true) as Node;
  const ctx: Ctx = { file, lines: src.lines, problems };
  const keys = new Set<string>();
  list.forEach((s, i) => {
    if (s && keys.has(s.key)) problemAt(ctx, node(i, 'key'), `sources[${i}].key`, `duplicate source key ${JSON.stringify(s.key)}`);
    if (s) keys.add(s.key);
    if (!s) return;
    const params = s.params as unknown as Record<string, unknown>;
    const at = node(i, 'params');
    for (const m of [...sourceParamProblems(s.type, params), ...(s.type === 'nats' && params.servers ? serverProblems(params.servers) : [])]) problemAt(ctx, at, `sources[${i}]`, m);
  });
  return list.filter(Boolean);
}

function loadRules(root: string, problems: Problem[]): RuleConfig[] {
  const out: RuleConfig[] = [];
  for (const file of yamlFiles(path.join(root, 'models', 'rules'), true)) {
    const src = readYaml(file, problems);
    if (!src) continue;
    const rules = checkDoc<{ rules?: RuleConfig[] }>(src, RULES_SCHEMA, problems).rules ?? [];
    const ctx: Ctx = { file, lines: src.lines, problems };
    rules.forEach((r, i) => {
      if (!r) return;
      const node = src.doc.getIn(['rules', i], true) as Node;
      if (!r.regex === !r.json) problemAt(ctx, node, `rules[${i}]`, 'give exactly one of regex or json: true');
      if (r.regex) {
        const at = src.doc.getIn(['rules', i, 'regex'], true) as Node;
        try {
          new RegExp(r.regex);
          const named = captureNames(r.regex).filter((n) => n !== undefined);
          if (named.length === 0) problemAt(ctx, at, `rules[${i}].regex`, 'the regex has no named group (?<field>...), so it would make empty records');
          for (const k of Object.keys(r.types ?? {})) {
            if (!named.includes(k)) problemAt(ctx, src.doc.getIn(['rules', i, 'types', k], true) as Node, `rules[${i}].types.${k}`, `${JSON.stringify(k)} is not a named group of the regex (groups: ${named.join(', ') || 'none'})`);
          }
        } catch (err) {
          problemAt(ctx, at, `rules[${i}].regex`, `invalid regular expression: ${(err as Error).message}`);
        }
      }
      out.push(r);
    });
  }
  return out;
}

function loadConnectors(root: string, problems: Problem[], broken: Set<string>): Map<string, ConnectorConfig & { src: YamlSource; index: number }> {
  const out = new Map<string, ConnectorConfig & { src: YamlSource; index: number }>();
  for (const file of yamlFiles(path.join(root, 'sink', 'connectors.d'), false)) {
    const src = readYaml(file, problems);
    if (!src) continue;
    const list = checkDoc<{ connectors?: ConnectorConfig[] }>(src, CONNECTORS_SCHEMA, problems).connectors ?? [];
    const ctx: Ctx = { file, lines: src.lines, problems };
    list.forEach((c, i) => {
      if (!c?.id) return;
      if (out.has(c.id)) problemAt(ctx, src.doc.getIn(['connectors', i, 'id'], true) as Node, `connectors[${i}].id`, `connector id ${JSON.stringify(c.id)} is already defined in ${out.get(c.id)!.src.file}`);
      const spec = SINK_TYPES[c.type];
      if (!spec) {
        problemAt(ctx, src.doc.getIn(['connectors', i, 'type'], true) as Node, `connectors[${i}].type`, `unknown sink type ${JSON.stringify(c.type)} (known: ${Object.keys(SINK_TYPES).join(', ')})`);
        broken.add(c.id);
        return;
      }
      check(src.doc.getIn(['connectors', i, 'params'], true) as Node, paramsSchema(c.type, false), ctx, `connectors[${i}].params`);
      for (const [j, key] of c.allow_override.entries()) {
        if (!(key in spec.params)) problemAt(ctx, src.doc.getIn(['connectors', i, 'allow_override', j], true) as Node, `connectors[${i}].allow_override[${j}]`, `${JSON.stringify(key)} is not a param of ${c.type}`);
      }
      out.set(c.id, { ...c, src, index: i });
    });
  }
  return out;
}

function resolveSinks(raw: RawGroup, src: YamlSource, connectors: ReturnType<typeof loadConnectors>, ctx: Ctx, broken: ReadonlySet<string>): SinkSpec[] {
  const out: SinkSpec[] = [];
  const names = new Set<string>();
  raw.sinks.forEach((s, i) => {
    if (!s) return;
    const at = `group.sinks[${i}]`;
    const node = src.doc.getIn(['group', 'sinks', i], true) as Node;
    const name = s.name ?? `[${i}]`;
    if (names.has(name)) problemAt(ctx, node, `${at}.name`, `sink name ${JSON.stringify(name)} is used twice in group ${raw.name}`);
    // the name starts its rescue file names: one those cannot carry (`.`, `..`) failed at the first outage
    else if (!isValidSinkName(name)) problemAt(ctx, node, `${at}.name`, `sink name ${JSON.stringify(name)} cannot name a rescue file (not \`.\` or containing \`..\`)`);
    names.add(name);
    const conn = connectors.get(s.connect);
    if (!conn) {
      if (broken.has(s.connect)) return;
      problemAt(ctx, src.doc.getIn(['group', 'sinks', i, 'connect'], true) as Node, `${at}.connect`, `unknown connector ${JSON.stringify(s.connect)} (known: ${[...connectors.keys()].join(', ') || 'none'})`);
      return;
    }
    const overrideNode = src.doc.getIn(['group', 'sinks', i, 'params'], true) as Node | undefined;
    if (overrideNode && isMap(overrideNode)) {
      for (const pair of overrideNode.items) {
        const k = String(isScalar(pair.key) ? pair.key.value : pair.key);
        if (!conn.allow_override.includes(k)) problemAt(ctx, pair.key as Node, `${at}.params.${k}`, `connector ${conn.id} does not allow overriding ${JSON.stringify(k)} (allow_override: [${conn.allow_override.join(', ')}])`);
      }
      check(overrideNode, paramsSchema(conn.type, false), ctx, `${at}.params`);
    }
    const spec = SINK_TYPES[conn.type]!;
    const params: Record<string, unknown> = {};
    for (const [k, f] of Object.entries(spec.params)) if (f.default !== undefined) params[k] = f.default;
    Object.assign(params, conn.params, s.params ?? {});
    for (const [k, f] of Object.entries(spec.params)) {
      if (f.required && params[k] === undefined) problemAt(ctx, node, `${at}.params.${k}`, `missing required param of ${conn.type} (set it on connector ${conn.id} or here)`);
    }
    for (const message of spec.validate?.(params) ?? []) problemAt(ctx, node, `${at}.params`, message);
    if (s.filter) {
      const given = (['equals', 'matches', 'in'] as const).filter((k) => k in s.filter!);
      if (given.length !== 1) problemAt(ctx, src.doc.getIn(['group', 'sinks', i, 'filter'], true) as Node, `${at}.filter`, `give exactly one of equals, matches or in (got ${given.join(', ') || 'none'})`);
    }
    if (s.expect) {
      const e = s.expect;
      const eNode = src.doc.getIn(['group', 'sinks', i, 'expect'], true) as Node;
      if (e.ratio !== undefined && (e.min !== undefined || e.max !== undefined)) problemAt(ctx, eNode, `${at}.expect`, 'ratio/tol cannot be combined with min/max');
      else if (e.tol !== undefined && e.ratio === undefined) problemAt(ctx, eNode, `${at}.expect.tol`, 'tol needs a ratio');
      else if (e.min !== undefined && e.max !== undefined && e.min > e.max) problemAt(ctx, eNode, `${at}.expect`, `min ${e.min} is greater than max ${e.max}`);
    }
    if (s.filter?.matches) {
      try {
        new RegExp(s.filter.matches);
      } catch (err) {
        problemAt(ctx, node, `${at}.filter.matches`, `invalid regular expression: ${(err as Error).message}`);
      }
    }
    out.push({
      group: raw.name,
      name,
      key: `${raw.name}/${name}`,
      type: conn.type,
      connector: conn.id,
      params,
      ...(s.filter ? { filter: s.filter } : {}),
      ...(s.expect ? { expect: s.expect } : {}),
      tags: parseTags(s.tags),
    });
  });
  return out;
}

export function findSink(wr: WorkRoot, group: string, sink: string): SinkSpec | undefined {
  return wr.groups.find((g) => g.name === group)?.sinks.find((s) => s.name === sink);
}
