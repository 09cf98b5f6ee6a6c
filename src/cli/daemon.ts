import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import { loadWorkRoot, type WorkRoot } from '../config/work-root.js';
import { WrError, errorMessage } from '../errors.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import { startMetricsServer, type HealthProblem } from '../metrics/server.js';
import { systemClock, type Clock } from '../platform/clock.js';
import { parseListen } from '../platform/listen-address.js';
import { openLogFile, say, type Logger } from '../platform/logger.js';
import { VERSION } from '../platform/version.js';
import { lockWparse } from '../proj/wparse-lock.js';
import { resolveWorkRoot } from './context.js';

/** What one run of a daemon's service gets; a reload ends the run (signal) and starts the next. */
export interface ServiceRun {
  wr: WorkRoot;
  signal: AbortSignal;
  log: Logger;
  metrics: Metrics;
  clock: Clock;
  /** Sets what /healthz asks; called by each run. */
  setHealth: (fn: (stallMs?: number) => HealthProblem | undefined) => void;
}

export interface ServiceOptions<S> {
  cmd: 'wparse' | 'wprescue';
  mode: 'batch' | 'daemon';
  workRoot: string | undefined;
  metricsListen: string | undefined;
  /** What the terminal is told on a stop signal. */
  stopping: string;
  run: (r: ServiceRun) => Promise<S>;
  /**
   * Adds a later run's result to the earlier ones', so what a daemon prints at its stop covers its
   * whole life, not only the run since the last SIGHUP reload.
   */
  combine: (earlier: S, later: S) => S;
}

/**
 * The life of wparse / wprescue: check the work root and config (exit 2 before anything runs),
 * open the log and the metrics server, then run the service until it ends (batch) or a stop signal.
 * SIGHUP in a daemon loads the config again: an invalid one is logged and the running one kept; a
 * valid one stops the running service gracefully (rescue files released, jobs requeued, sinks
 * closed) and starts it again with the new config. SIGHUP and SIGUSR1 reopen the log file.
 * `log.file` and the metrics address are read at start only.
 */
export async function runService<S>(o: ServiceOptions<S>): Promise<S> {
  const root = resolveWorkRoot(o.workRoot);
  // signals are handled from here on, also while the config loads and the queue opens: a stop
  // then ends the run as soon as it starts, a SIGHUP has nothing to reload yet
  let current = new AbortController();
  let stopRequested = false;
  let next: WorkRoot | undefined;
  let sigints = 0;
  let out: { log: Logger; reopen: () => void } | undefined;
  const onStop = (sig: NodeJS.Signals): void => {
    if (sig === 'SIGINT' && ++sigints > 1) process.exit(130);
    out?.log.info({ signal: sig }, `${sig}: stopping`);
    say(`${o.cmd}: ${sig}: ${o.stopping}`);
    stopRequested = true;
    current.abort();
  };
  const onReopen = (sig: NodeJS.Signals): void => {
    out?.reopen();
    out?.log.info({ signal: sig }, 'log file reopened');
  };
  const onHup = (): void => {
    onReopen('SIGHUP');
    if (!out) return;
    if (o.mode !== 'daemon') return void out.log.info({ signal: 'SIGHUP' }, 'reload ignored in batch mode');
    try {
      next = loadWorkRoot(resolveWorkRoot(root));
    } catch (err) {
      out.log.error({ signal: 'SIGHUP', err: errorMessage(err) }, 'reload failed: config invalid, the running config is kept');
      say(`${o.cmd}: SIGHUP: reload failed, running config kept: ${errorMessage(err)}`);
      return;
    }
    out.log.info({ signal: 'SIGHUP', config: configFiles(root) }, 'reload: config valid, restarting the service with it');
    say(`${o.cmd}: SIGHUP: reloading the config`);
    current.abort();
  };
  const handlers: Array<[NodeJS.Signals, () => void]> = [
    ['SIGINT', () => onStop('SIGINT')],
    ['SIGTERM', () => onStop('SIGTERM')],
    ['SIGUSR1', () => onReopen('SIGUSR1')],
    ['SIGHUP', onHup],
  ];
  for (const [sig, fn] of handlers) process.on(sig, fn);
  let server: Server | undefined;
  let unlock: (() => Promise<void>) | undefined;
  try {
    let wr = loadWorkRoot(root);
    // one wparse per work root (wprescue has its own lock, on the rescue directory)
    if (o.cmd === 'wparse') unlock = await lockWparse(root, (err) => out?.log.error({ err: err.message }, 'work root lock compromised'));
    // an empty --metrics-listen is off, as an empty metrics.<cmd>.listen is (`--metrics-listen "$ADDR"` with ADDR unset)
    if (o.metricsListen) {
      const bad = parseListen(o.metricsListen);
      if (typeof bad === 'string') throw new WrError('USAGE', `--metrics-listen: ${bad}`);
    }
    out = openLog(root, wr, o.cmd);
    const { log } = out;
    const metrics = createMetrics(new Registry(), o.cmd);
    let health: (stallMs?: number) => HealthProblem | undefined = () => undefined;
    const stallMs = Number(process.env.WPR_HEALTH_WINDOW_MS) || undefined;
    const listen = o.metricsListen ?? wr.engine.metrics[o.cmd].listen;
    const what = o.metricsListen !== undefined ? '--metrics-listen' : `metrics.${o.cmd}.listen`;
    try {
      if (listen) server = await startMetricsServer(listen, what, metrics.registry, () => health(stallMs));
    } catch (err) {
      log.error({ err: errorMessage(err) }, `${o.cmd} failed`);
      throw err;
    }
    log.info({ version: VERSION, mode: o.mode, workRoot: root, config: configFiles(root), metrics: listen || null, node: process.version }, `${o.cmd} started`);
    let before: S | undefined;
    for (;;) {
      let result: S;
      try {
        result = await o.run({ wr, signal: current.signal, log, metrics, clock: systemClock, setHealth: (fn) => (health = fn) });
      } catch (err) {
        log.error({ err: errorMessage(err) }, `${o.cmd} failed`);
        throw err;
      }
      if (before !== undefined) result = o.combine(before, result);
      if (stopRequested || !next) {
        log.info({ version: VERSION }, `${o.cmd} stopped`);
        return result;
      }
      before = result;
      wr = next;
      next = undefined;
      log.level = wr.engine.log.level;
      // per-sink gauges start again with the new sinks (a removed sink must not read "failing over")
      metrics.failoverActive.reset();
      metrics.backlogLines.reset();
      current = new AbortController();
      log.info({ config: configFiles(root) }, 'config reloaded');
    }
  } finally {
    for (const [sig, fn] of handlers) process.off(sig, fn);
    server?.close();
    await unlock?.().catch(() => undefined);
  }
}

function openLog(root: string, wr: WorkRoot, cmd: string): { log: Logger; reopen: () => void } {
  const file = path.resolve(root, wr.engine.log.file);
  try {
    return openLogFile(file, cmd, wr.engine.log.level);
  } catch (err) {
    throw new WrError('IO_ERROR', `cannot open log.file ${file.replaceAll('{cmd}', cmd)}: ${errorMessage(err)}`, err);
  }
}

/** The config files of a work root, relative to it, for the start and reload lines. */
function configFiles(root: string): string[] {
  const out: string[] = [];
  for (const dir of ['conf', 'models/rules', 'sink']) {
    let names: string[];
    try {
      names = readdirSync(path.join(root, dir), { recursive: true }).map(String);
    } catch {
      continue;
    }
    for (const n of names.sort()) if (/\.ya?ml$/.test(n)) out.push(path.join(dir, n));
  }
  return out;
}
