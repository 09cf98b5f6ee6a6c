import { readFileSync } from 'node:fs';
import { errnoCode } from '../errors.js';

/**
 * True when `pid` names a running process. A zombie (killed, not yet reaped by its parent) is
 * dead: it holds no file and will write nothing, so its locks may be taken over at once. The state
 * is read from /proc where there is one; elsewhere signal 0 alone decides.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true; // no /proc, or it exited in between: signal 0 said alive a moment ago
  }
  // "<pid> (<comm>) <state> ...": comm may hold spaces and parentheses, so read after the last ')'
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}
