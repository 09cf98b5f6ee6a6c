import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const HOW = 'nats-server not found: install it with `apt-get install -y nats-server` (as root, Debian/Ubuntu) or put a nats-server binary on PATH';

function find(): string | undefined {
  // Debian installs it in /usr/sbin, which a non-root PATH often lacks
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin'];
  return dirs.filter(Boolean).map((d) => path.join(d, 'nats-server')).find((f) => existsSync(f));
}

function apt(args: string[]): boolean {
  // the lock timeout lets two test files that install at once queue rather than fail
  const r = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], { encoding: 'utf8', timeout: 600_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return r.status === 0;
}

/**
 * The nats-server binary the NATS tests run. When it is missing and the tests run as root (as CI
 * does), the Debian package is installed, with an `apt-get update` first if the package lists are
 * stale; otherwise this throws one line saying how to install it. A NATS test never skips.
 */
export function natsServerBinary(): string {
  const have = find();
  if (have) return have;
  if (process.getuid?.() === 0) {
    if (!apt(['install', '-y', 'nats-server'])) {
      apt(['update']);
      apt(['install', '-y', 'nats-server']);
    }
    const now = find();
    if (now) return now;
  }
  throw new Error(HOW);
}
