import * as realFs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadWorkRoot } from '../../src/config/work-root.js';
import { ManualClock } from '../../src/platform/clock.js';
import { silentLogger } from '../../src/platform/logger.js';
import type { Job } from '../../src/queue/job-state.js';
import { RecoverCheckpoint } from '../../src/recovery/checkpoint.js';
import { createRateLimiter } from '../../src/recovery/rate-limiter.js';
import { ReplayHandler } from '../../src/recovery/replayer.js';
import { rescueLayout } from '../../src/rescue/layout.js';
import { range, T0, writeRescueFile } from '../helpers/rescue-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeWorkRoot } from '../helpers/work-root.js';

/** Runs once, right before the replayer renames a rescue file (after it decided to): an operator's step in between. */
const hook: { beforeRename?: (file: string) => void } = {};

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const rename = async (from: realFs.PathLike, to: realFs.PathLike): Promise<void> => {
    const h = hook.beforeRename;
    if (h && String(from).endsWith('.dat')) {
      hook.beforeRename = undefined;
      h(String(from));
    }
    await fs.promises.rename(from, to);
  };
  const promises = { ...fs.promises, rename };
  return { ...fs, promises, default: { ...fs, promises } };
});

describe('ReplayHandler.onDead racing an rm', () => {
  it("a dead job's file removed just before its quarantine: the reason is still written, no error", async () => {
    const root = makeWorkRoot(tmpDir());
    const rescueDir = path.join(root, 'data/rescue');
    const file = writeRescueFile(rescueDir, 'app', 'nosuch', T0, 0, range(0, 3));
    const id = path.relative(rescueDir, file);
    const handler = new ReplayHandler({
      wr: loadWorkRoot(root), rescueDir, checkpoint: new RecoverCheckpoint(path.join(rescueDir, 'recover.lock'), true), limiter: createRateLimiter(0), batchSize: 100, clock: new ManualClock(T0), log: silentLogger(),
    });
    hook.beforeRename = (f) => realFs.rmSync(f);
    const job: Job = { id, state: 'dead', attempt: 1, data: {}, notBefore: 0, dispatchedAt: 0, updatedAt: 0 };
    await handler.onDead(job, 'no sink nosuch in group app');
    expect(realFs.readFileSync(rescueLayout(rescueDir).reasonFile(id), 'utf8')).toBe('no sink nosuch in group app\n');
    await handler.close();
  });
});
