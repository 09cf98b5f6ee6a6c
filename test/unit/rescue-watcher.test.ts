import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/platform/logger.js';
import { RescueWatcher } from '../../src/recovery/rescue-watcher.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

describe('RescueWatcher', () => {
  it('tells its owner once the watch is in place (a file released before then raises no event), then reports released files', async () => {
    const dir = tmpDir();
    mkdirSync(path.join(dir, 'app'));
    const dats: string[] = [];
    let ready = 0;
    const w = new RescueWatcher(dir, (id) => dats.push(id), silentLogger(), () => ready++);
    try {
      w.update(0);
      // released while chokidar still reads the directory: no event for it, the ready scan finds it
      writeFileSync(path.join(dir, 'app', 'main-2026-11-30_10:00:00-0.dat'), 'x\n');
      await until(() => ready === 1, 10_000);
      const lock = path.join(dir, 'app', 'main-2026-11-30_10:00:01-1.dat.lock');
      writeFileSync(lock, 'y\n');
      renameSync(lock, lock.slice(0, -'.lock'.length));
      await until(() => dats.includes('app/main-2026-11-30_10:00:01-1.dat'), 10_000);
      expect(ready).toBe(1);
    } finally {
      await w.close();
    }
  });
});
