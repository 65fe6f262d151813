// Event stream for `cargo xtask`, shipped inside its binary and passed with --reporter.
// Writes one JSON object per line to $XTASK_EVENTS, in the schema of the xtask's pytest plugin:
// the planned ids from onBegin, then one line per test once its last attempt is over (a test
// that passed on a retry is "flaky", never a plain pass).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function firstLine(text) {
  if (!text) return null;
  // Strip ANSI colours; keep the first meaningful line.
  const plain = String(text).replace(/\u001b\[[0-9;]*m/g, '');
  return plain.split('\n').map((line) => line.trim()).find((line) => line) ?? null;
}

class XtaskReporter {
  constructor() {
    const target = process.env.XTASK_EVENTS;
    this.fd = target ? fs.openSync(target, 'a') : null;
    this.root = process.cwd();
  }

  emit(event) {
    if (this.fd !== null) fs.writeSync(this.fd, JSON.stringify(event) + '\n');
  }

  printsToStdio() {
    return false;
  }

  onBegin(config, suite) {
    // Ids and files relative to the directory of playwright.config: `tests/e2e/auth.spec.ts › ...`.
    this.root = config.configFile ? path.dirname(config.configFile) : config.rootDir || this.root;
    const tests = suite.allTests();
    this.emit({ event: 'collected', total: tests.length });
    if (process.env.XTASK_LIST !== '1') {
      // What this run will run: the xtask checks at the end that every one of them reported.
      this.emit({ event: 'planned', suites: { [process.env.XTASK_SUITE ?? 'e2e']: tests.map((test) => this.id(test)) } });
    }
    if (process.env.XTASK_LIST === '1') {
      // The listing pass: every test with its location, for shards (`file:line` selects it).
      for (const test of tests) {
        this.emit({ event: 'listed', id: this.id(test), file: path.relative(this.root, test.location.file), line: test.location.line });
      }
    }
  }

  /** `auth.spec.ts › signs in`: the file relative to the config's root, then the describe blocks and title. */
  id(test) {
    const titles = test.titlePath().slice(3); // ['', project, file, ...describes, title]
    return [path.relative(this.root, test.location.file), ...titles].join(' › ');
  }

  onTestEnd(test, result) {
    const last = result.status === 'skipped' || result.status === test.expectedStatus || result.retry >= test.retries;
    if (!last) {
      this.emit({ event: 'retry', id: this.id(test), attempt: result.retry + 1 });
      return;
    }
    const outcome = { expected: 'passed', unexpected: 'failed', flaky: 'flaky', skipped: 'skipped' }[test.outcome()];
    const failing = test.results.find((attempt) => attempt.error);
    const first = test.results[0]?.startTime;
    this.emit({
      event: 'test',
      id: this.id(test),
      outcome: outcome ?? 'failed',
      duration: test.results.reduce((sum, attempt) => sum + attempt.duration, 0) / 1000,
      worker: `p${result.parallelIndex}`,
      message: outcome === 'passed' || outcome === 'skipped' ? null : firstLine(failing?.error?.message),
      file: path.relative(this.root, test.location.file),
      line: test.location.line,
      start: first ? new Date(first).getTime() / 1000 : null,
      // The worker's time on it, fixtures included (`duration` leaves worker fixtures out).
      stop: Date.now() / 1000,
    });
  }

  onEnd(result) {
    this.emit({ event: 'finished', status: result.status });
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

module.exports = XtaskReporter;
