import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { parseStages } from '../../src/sinks/test-rescue/spec.js';
import { DEFAULT_STAGES, HealthSchedule } from '../../src/sinks/test-rescue/health-schedule.js';

describe('test_rescue health schedule', () => {
  it('default: healthy 2 s, unhealthy 2 s, then healthy forever (on a fake clock)', () => {
    const clock = new ManualClock(0);
    const s = new HealthSchedule(DEFAULT_STAGES, false, clock);
    const seen: boolean[] = [];
    for (let t = 0; t <= 6000; t += 500) {
      seen.push(s.isHealthy());
      clock.advance(500);
    }
    expect(seen).toEqual([true, true, true, true, false, false, false, false, true, true, true, true, true]);
  });

  it('stages measured in records offered, including records that went to rescue', () => {
    const s = new HealthSchedule(parseStages([{ healthy: '3 lines' }, { unhealthy: '2 lines' }, { healthy: 'forever' }]), false, new ManualClock());
    expect(s.takeHealthy(5)).toBe(3); // a batch of 5 straddles the boundary: 3 accepted
    expect(s.isHealthy()).toBe(false);
    s.offered(2); // the 2 not accepted were rescued: they count towards the outage
    expect(s.isHealthy()).toBe(true);
    expect(s.takeHealthy(1000)).toBe(1000);
  });

  it('repeat loops the schedule', () => {
    const clock = new ManualClock();
    const s = new HealthSchedule(parseStages([{ healthy: '100ms' }, { unhealthy: '100ms' }]), true, clock);
    const seen: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      seen.push(s.isHealthy());
      clock.advance(100);
    }
    expect(seen).toEqual([true, false, true, false, true, false]);
  });

  it('parses durations, line counts and forever', () => {
    expect(parseStages([{ healthy: '500ms' }, { unhealthy: '2s' }, { healthy: '3000 lines' }, { unhealthy: 'forever' }])).toEqual([
      { healthy: true, ms: 500 },
      { healthy: false, ms: 2000 },
      { healthy: true, lines: 3000 },
      { healthy: false },
    ]);
  });
});
