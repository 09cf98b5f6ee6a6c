import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';

export type { Logger };

const STD_FILES: Record<string, number> = { '/dev/stdout': 1, '/dev/stderr': 2, '/dev/fd/1': 1, '/dev/fd/2': 2 };

/**
 * JSON-lines log (pino) to a file; `{cmd}` in the path is replaced by the command name. Levels are
 * words and `time` is ISO 8601, for people and log shippers alike. `/dev/stderr` (or /dev/stdout)
 * is a valid file, for containers. The terminal gets short human lines through `say`.
 */
export function openLogFile(file: string, cmd: string, level: string): { log: Logger; reopen: () => void } {
  const target = file.replaceAll('{cmd}', cmd);
  // the process's own stderr/stdout by descriptor: opening /dev/stderr fails (ENXIO) when it is a
  // socket, as under systemd's journal or a Node parent
  const fd = STD_FILES[target];
  if (fd === undefined && !target.startsWith('/dev/')) mkdirSync(path.dirname(target), { recursive: true });
  // sync: logs are per file and per event, never per line; an async stream can be lost at exit.
  const dest = pino.destination({ dest: fd ?? target, sync: true, mkdir: false });
  const log = pino(
    { level, base: { cmd, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    dest,
  );
  // after logrotate moved the file away: write to a new file at the configured path
  return { log, reopen: () => (fd === undefined ? dest.reopen() : undefined) };
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A short human line on stderr (progress and warnings), keeping stdout for data and tables. */
export function say(line: string): void {
  process.stderr.write(`${line}\n`);
}
