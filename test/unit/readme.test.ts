import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { createMetrics, METRIC_NAMES } from '../../src/metrics/metrics.js';
import { ENGINE_SCHEMA } from '../../src/config/engine-config.js';
import type { Schema } from '../../src/platform/schema.js';

const README = readFileSync(path.join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

const COMMANDS = [
  'wparse batch', 'wparse daemon', 'wprescue batch', 'wprescue daemon', 'wprescue status', 'wprescue enqueue',
  'wprescue requeue --dead', 'wprescue queue repair', 'wproj stat file', 'wproj validate sink-file', 'wproj rescue stat',
  'wproj check', 'wproj init', 'wproj data clean', 'wpgen sample',
];

function keys(schema: Schema, prefix = ''): string[] {
  if (schema.kind !== 'object') return [prefix];
  return Object.entries(schema.fields).flatMap(([k, f]) => keys(f.schema, prefix ? `${prefix}.${k}` : k));
}

describe('README lists what the product has', () => {
  it('every CLI command', () => {
    for (const c of COMMANDS) expect(README, c).toContain(`\`${c}`);
  });
  it('every error code is raised somewhere in src/, by its name', () => {
    const src = path.join(import.meta.dirname, '..', '..', 'src');
    const text = readdirSync(src, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.ts') && f !== 'errors.ts')
      .map((f) => readFileSync(path.join(src, f), 'utf8'))
      .join('\n');
    for (const code of Object.keys(ERROR_CODES)) expect(text, code).toContain(`'${code}'`);
  });
  it('every error code with its exit status', () => {
    for (const [code, { exit }] of Object.entries(ERROR_CODES)) expect(README, code).toMatch(new RegExp(`\\| \`${code}\` \\| ${exit} \\|`));
  });
  it('the metric name list matches the registry', () => {
    const names = createMetrics().registry.getMetricsAsArray().map((m) => m.name).sort();
    expect(names).toEqual([...METRIC_NAMES].sort());
  });
  it('every metric', () => {
    for (const m of METRIC_NAMES) expect(README, m).toContain(`\`${m}`);
  });
  it('every conf/wparse.yaml key', () => {
    for (const k of keys(ENGINE_SCHEMA)) expect(README, k).toContain(`| \`${k}\` |`);
  });
});
