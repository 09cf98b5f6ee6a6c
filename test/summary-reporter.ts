import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints the plain closing lines CI reads: one `failed: <file> > <test>: <first error line>` per
 * failure (so the tail of a long log still names it), then `tests: N passed, N failed`.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    const failures: string[] = [];
    for (const mod of testModules) {
      const tests = [...mod.children.allTests()];
      if (mod.state() === 'failed' && tests.length === 0) {
        failures.push(`${mod.relativeModuleId}: ${firstLine(mod.errors()[0]?.message)}`);
      }
      for (const t of tests) {
        const result = t.result();
        if (result.state === 'passed') passed++;
        else if (result.state === 'failed') {
          failures.push(`${mod.relativeModuleId} > ${t.fullName}: ${firstLine(result.errors?.[0]?.message)}`);
        }
      }
    }
    for (const failure of failures) console.log(`failed: ${failure}`);
    console.log(`tests: ${passed} passed, ${failures.length} failed`);
  }
}

function firstLine(message: string | undefined): string {
  return (message ?? 'no error message').split('\n')[0]!.slice(0, 300);
}
