import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON-lines log (pino) to a file; `{cmd}` in the path is replaced by the command name. The
 * terminal gets short human lines through `say`, never the JSON log.
 */
export function createFileLogger(file: string, cmd: string, level: string): Logger {
  const target = file.replaceAll('{cmd}', cmd);
  mkdirSync(path.dirname(target), { recursive: true });
  // sync: logs are per file and per event, never per line; an async stream can be lost at exit.
  const dest = pino.destination({ dest: target, sync: true, mkdir: true });
  return pino({ level, base: { cmd, pid: process.pid } }, dest);
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A short human line on stderr (progress and warnings), keeping stdout for data and tables. */
export function say(line: string): void {
  process.stderr.write(`${line}\n`);
}
