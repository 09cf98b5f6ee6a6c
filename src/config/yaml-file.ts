import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { WrError, errnoCode } from '../errors.js';
import { check, formatProblem, type Ctx, type Problem, type Schema } from '../platform/schema.js';

/** A parsed YAML file with what is needed to report positions in it. */
export interface YamlSource {
  file: string;
  doc: Document;
  lines: LineCounter;
  /** 1-based line → variables substituted there with an empty value (named in later problems). */
  emptyVars: Map<number, string[]>;
}

const VAR = /\$(\$?)\{([^}\n]*)\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `${VAR}` and `${VAR:-default}` from the environment, before YAML parsing (SPEC section 2);
 * `$${` writes a literal `${`. `:-` takes the default when the variable is unset or empty, as in a
 * shell. Substitution is per line and a value may not contain a line break, so the line numbers of
 * later errors stay those of the file. Full-line comments are left alone.
 */
export function substituteEnv(file: string, text: string, env: NodeJS.ProcessEnv, problems: Problem[], emptyVars = new Map<number, string[]>()): string {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.includes('${') || /^\s*#/.test(line)) continue;
    lines[i] = line.replace(VAR, (whole: string, escaped: string, body: string, col: number) => {
      if (escaped) return whole.slice(1);
      const at = (message: string): string => {
        problems.push({ file, line: i + 1, col: col + 1, key: '', message });
        return whole;
      };
      const sep = body.indexOf(':-');
      const name = sep < 0 ? body : body.slice(0, sep);
      if (!NAME.test(name)) return at(`malformed variable reference ${whole} (use \${NAME} or \${NAME:-default}; $\${ writes a literal \${)`);
      const value = env[name];
      const out = sep >= 0 && !value ? body.slice(sep + 2) : value;
      if (out === undefined) return at(`environment variable ${name} is not set (referenced as ${whole}; give a default with \${${name}:-value})`);
      if (/[\r\n]/.test(out)) return at(`environment variable ${name} contains a line break`);
      if (out === '') emptyVars.set(i + 1, [...(emptyVars.get(i + 1) ?? []), name]);
      return out;
    });
  }
  return lines.join('\n');
}

/** Parses YAML text; syntax errors become problems with line and column. */
export function parseYaml(file: string, raw: string, problems: Problem[], env: NodeJS.ProcessEnv = process.env): YamlSource {
  const emptyVars = new Map<number, string[]>();
  const text = substituteEnv(file, raw, env, problems, emptyVars);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  for (const err of doc.errors) {
    const pos = err.linePos?.[0] ?? { line: 1, col: 1 };
    const what = (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    const hint = err.code === 'UNEXPECTED_TOKEN' && /flow-map|\{/.test(text.split('\n')[pos.line - 1] ?? '') ? ' (a { or } inside a value must be quoted)' : '';
    problems.push({ file, line: pos.line, col: pos.col, key: '', message: `invalid YAML (${err.code}): ${what}${hint}` });
  }
  return { file, doc, lines, emptyVars };
}

export function readYaml(file: string, problems: Problem[]): YamlSource | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') problems.push({ file, line: 1, col: 1, key: '', message: 'file not found' });
    else problems.push({ file, line: 1, col: 1, key: '', message: `cannot read: ${String(err)}` });
    return undefined;
  }
  return parseYaml(file, text, problems);
}

/** Validates the document root against a schema, collecting problems with positions. */
export function checkDoc<T>(src: YamlSource, schema: Schema, problems: Problem[]): T {
  const ctx: Ctx = { file: src.file, lines: src.lines, problems };
  if (src.doc.errors.length > 0) return check(null, schema, { ...ctx, problems: [] }, '') as T;
  const before = problems.length;
  const value = check(src.doc.contents, schema, ctx, '') as T;
  // `path: ${DIR}` with DIR set but empty reads as a null value: say which variable it was
  for (const p of problems.slice(before)) {
    const names = src.emptyVars.get(p.line);
    if (names) p.message += ` (environment variable ${names.join(', ')} is empty)`;
  }
  // a root that is not a map (a list, a scalar) is a problem reported above; the caller still gets
  // the defaults, so it can go on collecting problems instead of failing on `undefined.key`
  return value ?? (check(null, schema, { ...ctx, problems: [] }, '') as T);
}

/** Throws CONFIG_INVALID naming the first problem (and how many more), if there are any. */
export function throwIfProblems(problems: Problem[]): void {
  const first = problems[0];
  if (!first) return;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem(s); run \`wproj check\`)` : '';
  throw new WrError('CONFIG_INVALID', `${formatProblem(first)}${more}`);
}
