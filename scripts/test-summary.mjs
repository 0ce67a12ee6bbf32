// Prints the plain closing line CI reads ("N passed, N failed, N skipped") from vitest's JSON
// report, and lists the skipped tests with their reasons so a skipped suite is never silent.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.test-results/vitest.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.error(`test-summary: cannot read ${file}: ${err.message}`);
  process.exit(1);
}
const skipped = [];
for (const f of report.testResults ?? []) {
  for (const t of f.assertionResults ?? []) {
    if (t.status === 'skipped' || t.status === 'pending' || t.status === 'todo') skipped.push(t.fullName);
  }
}
if (skipped.length) {
  console.log(`skipped tests (${skipped.length}):`);
  for (const name of skipped) console.log(`  - ${name}`);
}
const failed = report.numFailedTests + (report.numRuntimeErrorTestSuites ?? 0);
console.log(`tests: ${report.numPassedTests} passed, ${failed} failed, ${report.numPendingTests + (report.numTodoTests ?? 0)} skipped`);
