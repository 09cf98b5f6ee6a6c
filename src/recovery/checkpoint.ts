import { readFileSync } from 'node:fs';
import { errnoCode } from '../errors.js';
import { writeFileAtomicSync } from '../platform/atomic-write.js';

/**
 * Replay progress, `<rescue.path>/recover.lock`: `{"version":1,"files":{"<job id>":{"offset":B,"lines":N}}}`.
 * `offset` is the byte offset just past the last line the sink acknowledged; a restart resumes
 * there, so nothing acknowledged is sent again. Replaced atomically after every acknowledged
 * batch (fsynced when `durable`).
 */
export interface FileProgress {
  offset: number;
  lines: number;
}

export class RecoverCheckpoint {
  private files: Record<string, FileProgress>;
  constructor(
    readonly file: string,
    private readonly durable: boolean,
  ) {
    this.files = RecoverCheckpoint.read(file);
  }

  static read(file: string): Record<string, FileProgress> {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return {};
      throw err;
    }
    try {
      const obj = JSON.parse(text) as { version?: unknown; files?: Record<string, FileProgress> };
      return obj.version === 1 && obj.files && typeof obj.files === 'object' ? obj.files : {};
    } catch {
      return {};
    }
  }

  get(job: string): FileProgress | undefined {
    return this.files[job];
  }

  all(): Record<string, FileProgress> {
    return { ...this.files };
  }

  set(job: string, p: FileProgress): Promise<void> {
    this.files[job] = p;
    return this.save();
  }

  remove(job: string): Promise<void> {
    if (!(job in this.files)) return Promise.resolve();
    delete this.files[job];
    return this.save();
  }

  private save(): Promise<void> {
    writeFileAtomicSync(this.file, `${JSON.stringify({ version: 1, files: this.files })}\n`, this.durable);
    return Promise.resolve();
  }
}
