import type { GroupSpec, SinkSpec } from '../config/work-root.js';
import type { FilterConfig } from '../config/work-root-schema.js';
import type { Rec } from '../record.js';

/** Rule-name globs: `*` any run of characters (slashes included), `?` one character. */
export function globToRegExp(glob: string): RegExp {
  const esc = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${esc}$`);
}

export function compileFilter(f: FilterConfig | undefined): ((r: Rec) => boolean) | undefined {
  if (!f) return undefined;
  const { field } = f;
  if (f.matches !== undefined) {
    const re = new RegExp(f.matches);
    return (r) => r[field] !== undefined && r[field] !== null && re.test(String(r[field]));
  }
  if (f.in !== undefined) {
    const set = new Set(f.in);
    return (r) => set.has(r[field] ?? null);
  }
  const want = f.equals ?? null;
  return (r) => (r[field] ?? null) === want;
}

export interface RoutedSink {
  spec: SinkSpec;
  filter: ((r: Rec) => boolean) | undefined;
  /** Group tags + sink tags, added as fields after the record's own. */
  tags: Array<[string, string]>;
}

/**
 * Routing: a record parsed by rule R goes to every business group with a glob matching R (to each
 * sink whose filter accepts it); if no business group takes R, to `default`. The rule → groups
 * lookup is computed once per rule name.
 */
export class Router {
  private readonly cache = new Map<string, RoutedSink[][]>();
  readonly business: Array<{ name: string; globs: RegExp[]; sinks: RoutedSink[] }>;
  readonly infra: Record<'default' | 'miss' | 'error' | 'monitor', RoutedSink[]>;

  constructor(groups: GroupSpec[]) {
    const routed = (g: GroupSpec): RoutedSink[] =>
      g.sinks.map((s) => ({ spec: s, filter: compileFilter(s.filter), tags: [...g.tags, ...s.tags] }));
    this.business = groups.filter((g) => g.kind === 'business').map((g) => ({ name: g.name, globs: g.rule.map(globToRegExp), sinks: routed(g) }));
    const infra = (name: string): RoutedSink[] => {
      const g = groups.find((x) => x.kind === 'infra' && x.name === name);
      return g ? routed(g) : [];
    };
    this.infra = { default: infra('default'), miss: infra('miss'), error: infra('error'), monitor: infra('monitor') };
  }

  /** The sink lists of the groups that take records of this rule (business, or else default). */
  groupsFor(rule: string): RoutedSink[][] {
    let hit = this.cache.get(rule);
    if (!hit) {
      hit = this.business.filter((g) => g.globs.some((re) => re.test(rule))).map((g) => g.sinks);
      if (hit.length === 0) hit = [this.infra.default];
      this.cache.set(rule, hit);
    }
    return hit;
  }
}

export function withTags(r: Rec, tags: Array<[string, string]>): Rec {
  if (tags.length === 0) return r;
  const out: Rec = { ...r };
  for (const [k, v] of tags) out[k] = v;
  return out;
}
