import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { realFs } from '../../src/platform/fs-port.js';
import { DAMAGE_FILE, MAX_DAMAGE_ENTRIES, openDamage, readDamageLog, recordDamage } from '../../src/queue/damage-log.js';
import { walName } from '../../src/queue/wal/segment-name.js';
import { tmpDir } from '../helpers/tmp.js';

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures');
const opts = (at: number): Parameters<typeof recordDamage>[2] => ({ at, skippedEvents: 2, fs: realFs, durable: false });

describe('damage record (damage.json)', () => {
  it('matches the golden file byte for byte, and keeps the segment bytes aside', async () => {
    const dir = tmpDir();
    const seg = path.join(dir, walName(7));
    writeFileSync(seg, 'original bytes\n');
    await recordDamage(dir, [{ file: seg, records: [{ offset: 120, reason: 'CRC mismatch' }, { offset: 310, reason: 'invalid record (json)' }] }], opts(1795356000000));
    expect(readFileSync(path.join(dir, DAMAGE_FILE), 'utf8')).toBe(readFileSync(path.join(FIXTURES, 'damage-golden.json'), 'utf8'));
    expect(readFileSync(path.join(dir, `${walName(7)}.damaged-1795356000000`), 'utf8')).toBe('original bytes\n');
  });

  it('one damage is recorded once; an entry is open while its copy exists; the newest entries are kept', async () => {
    const dir = tmpDir();
    const seg = path.join(dir, walName(1));
    writeFileSync(seg, 'x\n');
    const found = [{ file: seg, records: [{ offset: 0, reason: 'CRC mismatch' }] }];
    await recordDamage(dir, found, opts(1));
    await recordDamage(dir, found, opts(2)); // a start that crashed before its snapshot, then another
    expect(readDamageLog(dir).map((e) => e.at)).toEqual([1]);
    rmSync(path.join(dir, readDamageLog(dir)[0]!.keptAs));
    expect(openDamage(dir)).toEqual([]);
    for (let at = 10; at < 10 + MAX_DAMAGE_ENTRIES + 5; at++) await recordDamage(dir, [{ file: seg, records: [{ offset: at, reason: 'CRC mismatch' }] }], opts(at));
    const log = readDamageLog(dir);
    expect(log).toHaveLength(MAX_DAMAGE_ENTRIES);
    expect(log[0]!.at).toBe(15);
  });

  it('an unreadable record reads as empty and is replaced by the next one', async () => {
    const dir = tmpDir();
    writeFileSync(path.join(dir, DAMAGE_FILE), '{"version":1,"entr');
    expect(readDamageLog(dir)).toEqual([]);
    const seg = path.join(dir, walName(3));
    writeFileSync(seg, 'x\n');
    await recordDamage(dir, [{ file: seg, records: [{ offset: 5, reason: 'CRC mismatch' }] }], opts(9));
    expect(readDamageLog(dir)).toHaveLength(1);
    expect(existsSync(path.join(dir, `${walName(3)}.damaged-9`))).toBe(true);
  });
});
