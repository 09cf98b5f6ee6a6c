/** A group opening `(` or an escape `\x` of a regex source, outside character classes for groups. */
type RegexToken =
  | { kind: 'escape'; at: number; inClass: boolean }
  | { kind: 'group'; at: number; name: string | undefined; nameEnd: number };

/** Walks a regex source: escapes, and every capturing group (named or not) in capture order. */
function* regexTokens(source: string): Generator<RegexToken> {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      yield { kind: 'escape', at: i, inClass };
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') {
      if (source[i + 1] !== '?') yield { kind: 'group', at: i, name: undefined, nameEnd: i };
      else if (source[i + 2] === '<' && source[i + 3] !== '=' && source[i + 3] !== '!') {
        const nameEnd = source.indexOf('>', i + 3);
        yield { kind: 'group', at: i, name: source.slice(i + 3, nameEnd), nameEnd };
      }
    }
  }
}

/**
 * The name of every capturing group of a regex source, in capture order (`undefined` for an
 * unnamed group). Skips escapes, character classes and non-capturing / lookaround groups.
 */
export function captureNames(source: string): Array<string | undefined> {
  const names: Array<string | undefined> = [];
  for (const t of regexTokens(source)) if (t.kind === 'group') names.push(t.name);
  return names;
}

/**
 * The same regex source with every `(?<name>` made a plain `(`: the groups keep their numbers, and
 * `exec` no longer builds a `groups` object per match (about 15% of a match's cost). Undefined when
 * the source refers to a group by name (`\k<name>`), which needs the names.
 */
export function withoutCaptureNames(source: string): string | undefined {
  let out = '';
  let from = 0;
  for (const t of regexTokens(source)) {
    if (t.kind === 'escape') {
      if (!t.inClass && source[t.at + 1] === 'k') return undefined;
    } else if (t.name !== undefined) {
      out += `${source.slice(from, t.at)}(`;
      from = t.nameEnd + 1;
    }
  }
  return out + source.slice(from);
}
