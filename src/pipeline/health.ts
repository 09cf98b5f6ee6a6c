import type { Clock } from '../platform/clock.js';
import type { HealthProblem } from '../metrics/server.js';

const STALL_MS = 60_000;

/**
 * wparse's /healthz (SPEC section 8). Unhealthy when input waits and none was taken for a minute
 * (a source holds a batch the sinks have not taken for that long: the input behind it is unread),
 * or while a rescue write fails (disk full, cap reached with `block`): then input is paused.
 * Reading is event-driven, so a batch in hand is the one sign of input waiting that costs nothing.
 */
export class PipelineHealth {
  private readonly inHand = new Map<string, number>();
  private readonly rescueFailing = new Map<string, string>();

  constructor(private readonly clock: Clock) {}

  batchTaken(source: string): void {
    this.inHand.set(source, this.clock.now());
  }

  batchDone(source: string): void {
    this.inHand.delete(source);
  }

  rescueWrite(sink: string, error: string | undefined): void {
    if (error === undefined) this.rescueFailing.delete(sink);
    else this.rescueFailing.set(sink, error);
  }

  problem(stallMs = STALL_MS): HealthProblem | undefined {
    if (this.rescueFailing.size) {
      const [sink, error] = [...this.rescueFailing][0]!;
      return { reason: 'rescue_write_failing', message: `rescue writes of ${[...this.rescueFailing.keys()].join(', ')} fail: input paused`, sinks: [...this.rescueFailing.keys()], last_error: `${sink}: ${error}` };
    }
    const now = this.clock.now();
    const stuck = [...this.inHand].filter(([, since]) => now - since > stallMs);
    if (stuck.length === 0) return undefined;
    const oldest = Math.min(...stuck.map(([, t]) => t));
    return { reason: 'input_stalled', message: `input of ${stuck.map(([k]) => k).join(', ')} waits and none was read for ${Math.round((now - oldest) / 1000)}s`, sources: stuck.map(([k]) => k) };
  }
}
