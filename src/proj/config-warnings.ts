import type { WorkRoot } from '../config/work-root.js';
import { globToRegExp } from '../pipeline/router.js';

/**
 * What `wproj check` warns about in a valid config: routing that silently takes nothing or loses
 * records. A business group whose `rule` globs match no rule never receives a record (a typo in a
 * glob looks exactly like a quiet source); a rule that no business group takes, with no `default`
 * infra group, has its records dropped by `wparse` (counted as unrouted, never written anywhere).
 * Warnings, not errors: the config runs, but rarely as its author meant.
 */
export function configWarnings(wr: WorkRoot): string[] {
  const out: string[] = [];
  const ruleNames = wr.rules.map((r) => r.name);
  const business = wr.groups.filter((g) => g.kind === 'business');
  for (const g of business) {
    for (const glob of g.rule) {
      const re = globToRegExp(glob);
      if (!ruleNames.some((n) => re.test(n))) {
        out.push(`${g.file}: group ${g.name}: rule glob ${JSON.stringify(glob)} matches no rule (rules: ${ruleNames.join(', ') || 'none'})`);
      }
    }
  }
  if (!wr.groups.some((g) => g.name === 'default')) {
    const globs = business.flatMap((g) => g.rule.map(globToRegExp));
    const untaken = ruleNames.filter((n) => !globs.some((re) => re.test(n)));
    if (untaken.length) {
      out.push(`records of rule(s) ${untaken.join(', ')} go to no group and are dropped: no business group takes them and there is no default group (sink/infra.d/default.yaml)`);
    }
  }
  return out;
}
