import type { Reporter, TestModule, TestRunEndReason } from "vitest/node";

/**
 * Ends every run with one plain line `N passed, N failed[, N skipped]` (what CI reads), after vitest's own summary.
 * Failed counts each failing test, each file or suite that failed on its own (a file that does not load, a hook that
 * throws: the tests it guards are then skipped, and counted as skipped) and each unhandled error, so the line says
 * something failed whenever vitest's exit status does.
 */
export default class TotalsReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>, reason: TestRunEndReason) {
    const totals = countResults(modules, unhandledErrors.length);
    // vitest's verdict has the last word (no test files, a failure outside every file): a failed run never reads "0 failed"
    if (reason === "failed" && totals.failed === 0) totals.failed = 1;
    const { passed, failed, skipped } = totals;
    process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}${reason === "interrupted" ? " (interrupted)" : ""}\n`);
  }
}

function countResults(modules: ReadonlyArray<TestModule>, unhandledErrors: number) {
  let passed = 0;
  let failed = unhandledErrors;
  let skipped = 0;
  for (const module of modules) {
    let failedHere = 0;
    for (const test of module.children.allTests()) {
      const state = test.result().state;
      if (state === "passed") passed++;
      else if (state === "failed") failedHere++;
      else skipped++;
    }
    // errors of the file or a suite themselves: loading, collecting, or a beforeAll / afterAll hook
    for (const part of [module, ...module.children.allSuites()]) if (part.errors().length) failedHere++;
    // a file vitest failed for a reason none of these shows still counts once
    if (module.state() === "failed" && failedHere === 0) failedHere = 1;
    failed += failedHere;
  }
  return { passed, failed, skipped };
}
