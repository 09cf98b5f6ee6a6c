import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON-lines log (pino) to a file; `{cmd}` in the path is replaced by the command name. Levels are
 * words and `time` is ISO 8601, for people and log shippers alike. `/dev/stderr` (or /dev/stdout)
 * is a valid file, for containers. The terminal gets short human lines through `say`.
 */
export function openLogFile(file: string, cmd: string, level: string): { log: Logger; reopen: () => void } {
  const target = file.replaceAll('{cmd}', cmd);
  if (!target.startsWith('/dev/')) mkdirSync(path.dirname(target), { recursive: true });
  // sync: logs are per file and per event, never per line; an async stream can be lost at exit.
  const dest = pino.destination({ dest: target, sync: true, mkdir: !target.startsWith('/dev/') });
  const log = pino(
    { level, base: { cmd, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    dest,
  );
  // after logrotate moved the file away: write to a new file at the configured path
  return { log, reopen: () => dest.reopen() };
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A short human line on stderr (progress and warnings), keeping stdout for data and tables. */
export function say(line: string): void {
  process.stderr.write(`${line}\n`);
}
