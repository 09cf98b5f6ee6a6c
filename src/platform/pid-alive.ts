import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { errnoCode } from '../errors.js';

/**
 * True when `pid` names a running process. A zombie (killed, not yet reaped by its parent) is
 * dead: it holds no file and will write nothing, so its locks may be taken over at once. The state
 * is read from /proc where there is one; elsewhere signal 0 alone decides.
 */
export function pidAlive(pid: number): boolean {
  return probe(pid).alive;
}

/** Signal 0, then one read of /proc/<pid>/stat: alive (not a zombie), and the start time if read. */
function probe(pid: number): { alive: boolean; start?: string } {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (errnoCode(err) !== 'EPERM') return { alive: false };
  }
  const st = procStat(pid);
  if (!st) return { alive: true }; // no /proc, or it exited in between: signal 0 said alive a moment ago
  return st.start === undefined ? { alive: st.state !== 'Z' } : { alive: st.state !== 'Z', start: st.start };
}

/** The state letter and start time (Linux: clock ticks since boot, field 22) of /proc/<pid>/stat. */
function procStat(pid: number): { state: string; start: string | undefined } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "<pid> (<comm>) <state> ...": comm may hold spaces and parentheses, so read after the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = fields[19];
  return { state: fields[0] ?? '', start: start && /^\d+$/.test(start) ? start : undefined };
}

let namespace: string | undefined;

/**
 * This process's pid namespace (`pid:[<inode>]` on Linux; the host name elsewhere). A pid read
 * from a shared volume means something only in the namespace that wrote it: in a container
 * deployment every daemon may be pid 1 of its own.
 */
export function pidNamespace(): string {
  if (namespace === undefined) {
    try {
      namespace = readlinkSync('/proc/self/ns/pid');
    } catch {
      namespace = `host:${hostname()}`;
    }
  }
  return namespace;
}

/**
 * When a process started, or undefined where that cannot be read. A pid and its start time name
 * one process for good: a pid reused after a kill -9 has another start time.
 */
export function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.start;
}

/** What a writer leaves for others to judge it by: `<pid> <pid namespace> [<start time>]`. */
export function processMark(): string {
  const start = processStartTime(process.pid);
  return `${process.pid} ${pidNamespace()}${start ? ` ${start}` : ''}\n`;
}

/**
 * Whether the process a mark names is running: true or false when this process can tell, and
 * undefined when it cannot (an unreadable mark, or a pid of another namespace); the caller then
 * judges by something else, such as a lock's age. A bare pid (the older form) is taken as ours.
 * With a start time, a live process of that pid started at another time is another process (the
 * pid was reused after its holder died): the mark's process is dead.
 */
export function markAlive(mark: string): boolean | undefined {
  const m = parseMark(mark);
  if (!m || (m.ns !== undefined && m.ns !== pidNamespace())) return undefined;
  const p = probe(m.pid);
  if (!p.alive) return false;
  return m.start === undefined || p.start === undefined || p.start === m.start;
}

/**
 * The pid (and namespace and start time, when written) of a mark; undefined when it names no
 * process. A start time counts only in a whole mark (ending in its newline): one read while it was
 * being written may be cut short, and a cut start time would make a live holder look dead.
 */
export function parseMark(mark: string): { pid: number; ns: string | undefined; start: string | undefined } | undefined {
  const [pidText, ns, start] = mark.trim().split(/\s+/, 3);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return undefined; // pid 0 would mean our own group
  return { pid, ns, start: mark.endsWith('\n') ? start : undefined };
}
