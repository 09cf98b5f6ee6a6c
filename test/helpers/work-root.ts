import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Builds a work root in `dir` from plain data: engine config, one file source, rules, connectors
 * and groups. Tests describe only what they care about.
 */
export interface WorkRootSpec {
  engine?: string;
  input?: string;
  rules?: string;
  groups?: Record<string, string>;
  infra?: Record<string, string>;
  connectors?: string;
}

export const DEFAULT_RULES = `rules:
  - name: /app/kv
    regex: '^id=(?<n>\\d+) level=(?<level>\\w+) msg=(?<msg>.*)$'
    types: { n: int }
  - name: /app/json
    json: true
`;

export const DEFAULT_CONNECTORS = `connectors:
  - id: file_json
    type: file
    params: { base: ./data/out_dat, file: out.json, fmt: json }
    allow_override: [file, fmt, sync, base]
  - id: rescue_json
    type: test_rescue
    params: { base: ./data/out_dat, file: out.json, fmt: json }
    allow_override: [file, fmt, stages, repeat]
  - id: tcp_json
    type: tcp
    params: { port: 9, fmt: json }
    allow_override: [port, host, resend_window]
`;

export function makeWorkRoot(dir: string, spec: WorkRootSpec = {}): string {
  const w = (rel: string, text: string): void => {
    const f = path.join(dir, rel);
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(f, text);
  };
  w('conf/wparse.yaml', spec.engine ?? 'version: 1\n');
  w('conf/wpsrc.yaml', `sources:\n  - key: src\n    params: { path: ./data/in_dat/input.log, from: checkpoint }\n`);
  w('data/in_dat/input.log', spec.input ?? '');
  w('models/rules/app.yaml', spec.rules ?? DEFAULT_RULES);
  w('sink/connectors.d/00.yaml', spec.connectors ?? DEFAULT_CONNECTORS);
  const groups = spec.groups ?? {
    app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: main\n      connect: file_json\n      params: { file: app.json }\n',
  };
  for (const [name, text] of Object.entries(groups)) w(`sink/business.d/${name}.yaml`, text);
  const infra = spec.infra ?? Object.fromEntries(['default', 'miss', 'error'].map((g) => [g, `group:\n  name: ${g}\n  sinks:\n    - connect: file_json\n      params: { file: ${g}.json }\n`]));
  for (const [name, text] of Object.entries(infra)) w(`sink/infra.d/${name}.yaml`, text);
  return dir;
}

/** `n` input lines: mostly kv lines of rule /app/kv, every 7th a JSON line, every 11th unparsable. */
export function makeInput(n: number, start = 0): string {
  let out = '';
  for (let i = start; i < start + n; i++) {
    if (i % 11 === 10) out += `garbage line ${i}\n`;
    else if (i % 7 === 6) out += `{"n":${i},"level":"info","msg":"json line ${i}"}\n`;
    else out += `id=${i} level=${i % 3 === 0 ? 'warn' : 'info'} msg=hello, world ${i}\n`;
  }
  return out;
}
