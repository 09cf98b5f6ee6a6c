import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

// Found by an attack: runMain's commandPath (src/cli/run.ts) dropped only the first `-w DIR` / `--work-root[=DIR]`
// from argv and does not know the attached short form `-wDIR`, so the `--json` error document's
// `command` names the wrong command ("wproj" or "wproj rescue" for `wproj rescue stat`) whenever
// -w is given twice, stands between two subcommand words, or is written `-wDIR`, although commander
// accepts all of these and runs `rescue stat`.
describe('--json error documents name the command that ran, however -w is written', () => {
  const missing = path.join(tmpDir(), 'no-such-root');
  const cases: string[][] = [
    [`-w${missing}`, 'rescue', 'stat', '--json'],
    ['-w', missing, '-w', missing, 'rescue', 'stat', '--json'],
    ['-w', missing, 'rescue', '-w', missing, 'stat', '--json'],
    ['--work-root', missing, 'rescue', `--work-root=${missing}`, 'stat', '--json'],
  ];
  for (const args of cases) {
    it(`wproj ${args.join(' ')}`, () => {
      const r = cli('wproj', args);
      expect(r.code).toBe(2);
      const doc = JSON.parse(r.stdout.trim()) as { command: string; error: { code: string } };
      expect(doc.error.code).toBe('CONFIG_NOT_FOUND');
      expect(doc.command).toBe('wproj rescue stat');
    });
  }
});
