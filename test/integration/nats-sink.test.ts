import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterEach, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/child.js';
import { bin, cli } from '../helpers/cli.js';
import { NatsCluster } from '../helpers/nats-cluster.js';
import { readStream } from '../helpers/nats-streams.js';
import { fileLines, rescueFilesIn } from '../helpers/outputs.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeInput, makeWorkRoot } from '../helpers/work-root.js';

let cluster: NatsCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** A work root whose business group publishes to stream OUT (subject out.records). */
function natsSinkRoot(urls: string[], input: string): string {
  return makeWorkRoot(tmpDir('nats-sink-'), {
    engine: 'version: 1\nrecovery: { idle_exit_ms: 500 }\n',
    input,
    connectors:
      'connectors:\n  - id: file_json\n    type: file\n    params: { base: ./data/out_dat, file: out.json, fmt: json }\n    allow_override: [file]\n' +
      `  - id: nats_out\n    type: nats\n    params: { servers: [${urls.join(', ')}], stream: OUT, subject: out.records, timeout_ms: 1000, duplicate_window_ms: 600000 }\n`,
    groups: { app: 'group:\n  name: app\n  rule: ["/app/*"]\n  sinks:\n    - name: bus\n      connect: nats_out\n' },
  });
}

describe('nats sink', () => {
  it('wproj check names bad nats params of sources and sinks', () => {
    const root = natsSinkRoot(['http://127.0.0.1:4222'], '');
    writeFileSync(path.join(root, 'conf', 'wpsrc.yaml'), 'sources:\n  - key: bus\n    type: nats\n    params: { servers: ["nats//nowhere"], stream: IN, path: x.log }\n');
    const r = cli('wproj', ['check', '-w', root]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('servers: "http://127.0.0.1:4222" is not a nats://host:port URL');
    expect(r.stdout).toContain('servers: "nats//nowhere" is not a nats://host:port URL');
    expect(r.stdout).toContain('params.consumer: missing required key for a nats source');
    expect(r.stdout).toContain('params.path: not a nats source key');
  });

  it('wproj nats init exits 3 when no server answers', () => {
    const r = cli('wproj', ['nats', 'init', '-w', natsSinkRoot(['nats://127.0.0.1:1'], '')]);
    expect(r.code).toBe(3);
    expect(r.stdout + r.stderr).toMatch(/nats init: cannot connect to nats:\/\/127\.0\.0\.1:1/);
  });

  it('wproj nats init --json is a document like every other --json (was a bare array)', () => {
    const none = cli('wproj', ['nats', 'init', '--json', '-w', makeWorkRoot(tmpDir())]);
    expect(none.code, none.stderr).toBe(0);
    expect(JSON.parse(none.stdout)).toMatchObject({ command: 'wproj nats init', ok: true, streams: [] });
    expect(JSON.parse(none.stdout)).toHaveProperty('version');
    const down = cli('wproj', ['nats', 'init', '--json', '-w', natsSinkRoot(['nats://127.0.0.1:1'], '')]);
    expect(down.code).toBe(3);
    expect(JSON.parse(down.stdout)).toMatchObject({ command: 'wproj nats init', ok: false, error: { code: 'NATS_INIT_FAILED' } });
  });

  it('a record larger than the server max_payload is rejected to the error group, the rest published', async () => {
    cluster = await NatsCluster.start(tmpDir('nats-cluster-'));
    const big = 'x'.repeat(1_100_000);
    const root = natsSinkRoot(cluster.urls, `id=0 level=info msg=a\nid=1 level=info msg=${big}\nid=2 level=info msg=c\n`);
    expect(cli('wproj', ['nats', 'init', '-w', root]).code).toBe(0);
    const r = cli('wparse', ['batch', '-w', root]);
    expect(r.code, r.stderr).toBe(0);
    const errors = fileLines(path.join(root, 'data', 'out_dat', 'error.json')).map((l) => JSON.parse(l) as { n: number; _error: string });
    expect(errors.map((e) => e.n)).toEqual([1]);
    expect(errors[0]!._error).toMatch(/max_payload/);
    const nc = await cluster.connect();
    expect((await readStream(nc, 'OUT')).map((l) => (JSON.parse(l) as { n: number }).n)).toEqual([0, 2]);
    await nc.close();
  }, 120_000);

  it('target cluster fully down mid-run: records go to rescue, replay into the restarted cluster stores each once (Nats-Msg-Id)', async () => {
    cluster = await NatsCluster.start(tmpDir('nats-cluster-'));
    // every 7th line is JSON and every 11th unparsable (miss): the oracle is the set of parsed records
    const N = 20_000;
    const root = natsSinkRoot(cluster.urls, makeInput(N));
    const expected = Array.from({ length: N }, (_, i) => i).filter((i) => i % 11 !== 10);
    const init = cli('wproj', ['nats', 'init', '-w', root]);
    expect(init.stdout, init.stderr).toMatch(/stream OUT created \(subjects out\.records, replicas 3, duplicate_window 600000 ms/);
    const nc = await cluster.connect();
    const jsm = await jetstreamManager(nc);
    const run = startNode(bin('wparse'), ['batch', '-w', root]);
    for (;;) {
      const stored = (await jsm.streams.info('OUT')).state.messages;
      if (stored >= 2000) break;
      if (run.child.exitCode !== null) throw new Error(`wparse ended before the outage: ${run.stdout()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // frozen while the cluster goes down, so the rest of the input cannot be published first
    run.child.kill('SIGSTOP');
    await nc.close();
    await cluster.killAll();
    run.child.kill('SIGCONT');
    const { code } = await run.exit;
    expect(code, run.stderr()).toBe(0);
    expect(run.stdout()).toContain('rescue file released');
    expect(rescueFilesIn(path.join(root, 'data', 'rescue')).length).toBeGreaterThan(0);

    await cluster.restartAll();
    const replay = cli('wprescue', ['batch', '-w', root]);
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
    expect(rescueFilesIn(path.join(root, 'data', 'rescue'))).toEqual([]);
    // the whole input read again (checkpoint cleared) publishes every record a second time under
    // the same ids: the duplicate window drops them all
    expect(cli('wproj', ['data', 'clean', '-w', root]).code).toBe(0);
    const again = cli('wparse', ['batch', '-w', root]);
    expect(again.stdout).toMatch(new RegExp(`app/bus +\\| +${expected.length} \\| +0 \\|`));
    const nc2 = await cluster.connect();
    const out = (await readStream(nc2, 'OUT')).map((l) => (JSON.parse(l) as { n: number }).n);
    await nc2.close();
    expect(out.length - new Set(out).size, 'duplicates').toBe(0);
    expect([...out].sort((a, b) => a - b)).toEqual(expected);
  }, 180_000);
});
