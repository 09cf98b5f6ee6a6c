import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, cli } from '../helpers/cli.js';
import { startNode } from '../helpers/child.js';
import { until } from '../helpers/until.js';
import { fileLines, outputNs, rescueFilesIn } from '../helpers/outputs.js';
import { range, T0, writeRescueFile } from '../helpers/rescue-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeWorkRoot } from '../helpers/work-root.js';
import type { QueueEvent } from '../../src/queue/job-state.js';
import { WalWriter } from '../../src/queue/wal/writer.js';
import { jobPayload } from '../../src/recovery/discovery.js';

const FAST = 'recovery: { idle_exit_ms: 200, scan_interval_ms: 50 }\nperformance: { rate_limit_rps: 0 }\n';

describe('wprescue queue commands', () => {
  it('enqueue adds released rescue files once, refuses files outside rescue.path or with a foreign name', () => {
    const root = makeWorkRoot(tmpDir(), { engine: FAST });
    const rescue = path.join(root, 'data/rescue');
    const f = writeRescueFile(rescue, 'app', 'main', T0, 0, range(0, 20));
    const first = cli('wprescue', ['enqueue', f, '-w', root]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe('enqueued: app/main-2026-11-22_10:00:00-0.dat\n');
    expect(cli('wprescue', ['enqueue', f, '-w', root]).stdout).toBe('already queued: app/main-2026-11-22_10:00:00-0.dat\n');
    const st = JSON.parse(cli('wprescue', ['status', '--json', '-w', root]).stdout) as { counts: Record<string, number>; jobs: { pending: Array<{ id: string }> } };
    expect(st.counts.pending).toBe(1);
    expect(st.jobs.pending.map((j) => j.id)).toEqual(['app/main-2026-11-22_10:00:00-0.dat']);

    const outside = path.join(tmpDir(), 'x-2026-11-22_10:00:00-0.dat');
    writeFileSync(outside, '');
    const o = cli('wprescue', ['enqueue', outside, '-w', root]);
    expect([o.code, o.stderr]).toEqual([2, expect.stringMatching(/is not inside the rescue directory/)]);
    mkdirSync(path.join(rescue, 'app'), { recursive: true });
    writeFileSync(path.join(rescue, 'app', 'notes.dat'), '');
    const n = cli('wprescue', ['enqueue', path.join(rescue, 'app', 'notes.dat'), '-w', root]);
    expect([n.code, n.stderr]).toEqual([2, expect.stringMatching(/not a released rescue file/)]);
    rmSync(path.join(rescue, 'app', 'notes.dat')); // (batch would quarantine it and exit 1)

    expect(cli('wprescue', ['batch', '-w', root]).code).toBe(0);
    expect(outputNs(path.join(root, 'data/out_dat/app.json'))).toEqual(range(0, 20));
  });

  it('enqueue refuses a quarantined file under dead/ and names requeue --dead (was: a job dead/<group>/… that died again and moved the file to dead/dead/)', () => {
    const root = makeWorkRoot(tmpDir(), { engine: FAST });
    const rescue = path.join(root, 'data/rescue');
    const q = writeRescueFile(path.join(rescue, 'dead'), 'app', 'main', T0, 0, range(0, 20));
    const r = cli('wprescue', ['enqueue', q, '-w', root]);
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/is quarantined in dead\/; `wprescue requeue --dead` gives dead jobs another run/)]);
    const st = JSON.parse(cli('wprescue', ['status', '--json', '-w', root]).stdout) as { counts: Record<string, number> };
    expect(st.counts).toMatchObject({ pending: 0, dead: 0 });
    expect(existsSync(q)).toBe(true);
  });

  it('status names a damaged WAL record before any start; queue repair, for an operator who looks first, keeps a backup and fixes it', async () => {
    const root = makeWorkRoot(tmpDir(), { engine: FAST });
    const rescue = path.join(root, 'data/rescue');
    for (let i = 0; i < 3; i++) writeRescueFile(rescue, 'app', 'main', T0 + i * 1000, 0, range(i * 10, i * 10 + 10));
    // a daemon killed before its first snapshot: the whole history is in the WAL only
    const d = startNode(bin('wprescue'), ['daemon', '-w', root]);
    await until(() => outputNs(path.join(root, 'data/out_dat/app.json')).length === 30 && rescueFilesIn(rescue).length === 0, 20_000);
    d.child.kill('SIGKILL'); // every file replayed and deleted, so a restart repeats nothing
    await d.exit;
    const qdir = path.join(root, 'data/.run/queue');
    const seg = readdirSync(qdir).filter((n) => n.startsWith('wal-') && readFileSync(path.join(qdir, n), 'utf8').length > 0).sort()[0]!;
    const file = path.join(qdir, seg);
    const text = readFileSync(file, 'utf8');
    const second = text.indexOf('\n') + 1;
    writeFileSync(file, `${text.slice(0, second + 2)}9${text.slice(second + 3)}`); // "seq":N → a digit changed: CRC mismatch
    const st = cli('wprescue', ['status', '-w', root]);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toContain(`damaged WAL record: ${file} at byte ${second}: CRC mismatch; the next start sets it aside`);
    const rep = cli('wprescue', ['queue', 'repair', '-w', root]);
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.stdout).toMatch(new RegExp(`repaired ${file}: dropped 1 damaged record\\(s\\) and 0 torn byte\\(s\\); backup ${file}\\.broken`));
    expect(readFileSync(`${file}.broken`, 'utf8')).not.toBe(text);
    expect(fileLines(file)).toHaveLength(text.split('\n').filter(Boolean).length - 1);
    expect((JSON.parse(cli('wprescue', ['status', '--json', '-w', root]).stdout) as { damage: unknown[] }).damage).toEqual([]);
    writeRescueFile(rescue, 'app', 'main', T0 + 9000, 0, range(30, 35));
    expect(cli('wprescue', ['batch', '-w', root]).code).toBe(0);
    expect(outputNs(path.join(root, 'data/out_dat/app.json'))).toEqual(range(0, 35));
    expect(cli('wprescue', ['queue', 'repair', '-w', root]).stdout).toMatch(/nothing to repair/);
  });

  it('both snapshots unreadable: start refuses and names queue repair, which sets the state aside; the next start rebuilds it from the rescue directory', () => {
    const root = makeWorkRoot(tmpDir(), { engine: FAST });
    const rescue = path.join(root, 'data/rescue');
    const out = path.join(root, 'data/out_dat/app.json');
    // two runs: the second one's snapshot drops the WAL segment the first one's covers
    for (let i = 0; i < 2; i++) {
      writeRescueFile(rescue, 'app', 'main', T0 + i * 1000, 0, range(i * 10, i * 10 + 10));
      expect(cli('wprescue', ['batch', '-w', root]).code).toBe(0);
    }
    writeRescueFile(rescue, 'app', 'main', T0 + 2000, 0, range(20, 30));
    const qdir = path.join(root, 'data/.run/queue');
    for (const name of ['snapshot.json', 'snapshot.bak.json']) writeFileSync(path.join(qdir, name), 'x\n');
    const refused = cli('wprescue', ['batch', '-w', root]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/queue state incomplete .*no readable snapshot .*but the WAL starts at seq \d+; `wprescue queue repair` sets it aside/);
    const rep = cli('wprescue', ['queue', 'repair', '-w', root]);
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.stdout).toMatch(/^queue state set aside \(no readable snapshot \(unreadable: snapshot\.json, snapshot\.bak\.json\) but the WAL starts at seq \d+\): \d+ file\(s\) renamed/);
    expect(readdirSync(qdir).filter((n) => n.includes('.damaged-')).map((n) => n.replace(/-\d+$/, '').replace(/\d{16}/, 'N')).sort()).toEqual(
      expect.arrayContaining(['snapshot.bak.json.damaged', 'snapshot.json.damaged', 'wal-N.log.damaged']),
    );
    expect(readdirSync(qdir).filter((n) => /^wal-\d+\.log$|^snapshot/.test(n) && !n.includes('.damaged-'))).toEqual([]);
    const seqsIn = (names: string[]): number[] =>
      names.flatMap((n) => readFileSync(path.join(qdir, n), 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { seq: number }).seq));
    const setAsideMax = Math.max(...seqsIn(readdirSync(qdir).filter((n) => /^wal-\d{16}\.log\.damaged-\d+$/.test(n))));
    expect(setAsideMax).toBeGreaterThan(1);
    const again = cli('wprescue', ['batch', '-w', root]);
    expect(again.code, again.stderr).toBe(0);
    expect(outputNs(out)).toEqual(range(0, 30)); // the waiting file once, the replayed ones not again
    // seq never resets (SPEC section 6): the rebuilt queue's events come after the set-aside ones
    const newSeqs = seqsIn(readdirSync(qdir).filter((n) => /^wal-\d{16}\.log$/.test(n)));
    expect(newSeqs.length).toBeGreaterThan(0);
    expect(Math.min(...newSeqs)).toBeGreaterThan(setAsideMax);
    expect(rescueFilesIn(rescue)).toEqual([]);
  });

  it('batch over a WAL with a flipped byte mid-segment: exit 0, every rescue line replayed once, status reports the damaged segment', async () => {
    const root = makeWorkRoot(tmpDir(), { engine: FAST });
    const rescue = path.join(root, 'data/rescue');
    const files = [0, 1, 2].map((i) => writeRescueFile(rescue, 'app', 'main', T0 + i * 1000, 0, range(i * 10, i * 10 + 10)));
    const ids = files.map((f) => path.relative(rescue, f));
    // the queue of a run that was killed: three files enqueued, the first one dispatched, plus a
    // job that finished (its file is gone) whose ACK will be the damaged record's neighbour
    const qdir = path.join(root, 'data/.run/queue');
    const gone = 'app/main-2026-11-22_09:00:00-0.dat';
    const w = await WalWriter.open({ dir: qdir, fsync: 'none', nextSeq: 1 });
    const ev = (type: QueueEvent['type'], job: string, data: Record<string, unknown> = {}): Omit<QueueEvent, 'seq'> => ({ type, job, ts: T0, data });
    await w.append([
      ev('ENQUEUE', gone, { payload: jobPayload(gone) }), ev('DISPATCH', gone),
      ...ids.map((id) => ev('ENQUEUE', id, { payload: jobPayload(id) })),
      ev('DISPATCH', ids[0]!), ev('ACK', gone),
    ]);
    const segment = w.currentSegment;
    await w.close();
    const text = readFileSync(segment, 'utf8');
    const lines = text.split('\n');
    const offset = lines.slice(0, 3).join('\n').length + 1; // the ENQUEUE of the second file
    const at = offset + lines[3]!.indexOf('main-') + 2;
    const buf = readFileSync(segment);
    buf[at]! ^= 0x01;
    writeFileSync(segment, buf);

    const r = cli('wprescue', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(outputNs(path.join(root, 'data/out_dat/app.json'))).toEqual(range(0, 30));
    expect(rescueFilesIn(rescue)).toEqual([]);
    const log = readFileSync(path.join(root, 'data/logs/wprescue.log'), 'utf8');
    expect(log).toContain(`"file":${JSON.stringify(segment)},"keptAs"`);
    expect(log).toContain(`"offset":${offset}`);

    type Status = { counts: Record<string, number>; damage: Array<{ segment: string; offset: number; reason: string; state: string; keptAs: string }> };
    const st = JSON.parse(cli('wprescue', ['status', '--json', '-w', root]).stdout) as Status;
    expect(st.damage).toEqual([expect.objectContaining({ segment, offset, reason: 'CRC mismatch', state: 'set_aside' })]);
    expect(readFileSync(st.damage[0]!.keptAs)).toEqual(buf); // the original bytes
    expect(st.counts).toMatchObject({ pending: 0, in_flight: 0, dead: 0, completed: 4 });
    expect(cli('wprescue', ['status', '-w', root]).stdout).toContain(`damaged WAL record: ${segment} at byte ${offset}: CRC mismatch; set aside as ${st.damage[0]!.keptAs}`);

    // the next start neither meets nor records the damage again; deleting the copy clears the report
    expect(cli('wprescue', ['batch', '-w', root]).code).toBe(0);
    expect((JSON.parse(cli('wprescue', ['status', '--json', '-w', root]).stdout) as Status).damage).toHaveLength(1);
    rmSync(st.damage[0]!.keptAs);
    expect((JSON.parse(cli('wprescue', ['status', '--json', '-w', root]).stdout) as Status).damage).toEqual([]);
    expect(outputNs(path.join(root, 'data/out_dat/app.json'))).toEqual(range(0, 30));
  });
});

describe('wpgen sample', () => {
  it('writes exactly -n lines, round-robin over every models/**/sample.dat line in path order', () => {
    const root = makeWorkRoot(tmpDir());
    for (const [dir, text] of [['a', 'a1\na2\n'], ['b/deep', 'b1\r\n\n']] as const) {
      mkdirSync(path.join(root, 'models', dir), { recursive: true });
      writeFileSync(path.join(root, 'models', dir, 'sample.dat'), text);
    }
    const r = cli('wpgen', ['sample', '-n', '7', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/wrote 7 lines from 3 sample line\(s\)/);
    expect(fileLines(path.join(root, 'data/in_dat/gen.dat'))).toEqual(['a1', 'a2', 'b1', 'a1', 'a2', 'b1', 'a1']);
    expect(cli('wpgen', ['sample', '-n', '0', '-w', root]).code).toBe(0);
    expect(existsSync(path.join(root, 'data/in_dat/gen.dat'))).toBe(true);
    const none = cli('wpgen', ['sample', '-n', '5', '-w', makeWorkRoot(tmpDir())]);
    expect([none.code, none.stderr]).toEqual([2, expect.stringMatching(/no sample lines/)]);
    expect(cli('wpgen', ['sample', '-w', root]).code).toBe(2); // -n is required
  });
});
