// Event stream for `cargo xtask`, shipped inside its binary and passed with --reporter.
// Writes one JSON object per line to $XTASK_EVENTS, in the schema of the xtask's pytest plugin:
// `collected` and `planned` (the ids) from onBegin, or `config` and `listed` lines in the listing pass; one `test`
// line per test once its last attempt is over (a test that passed on a retry is "flaky", never a
// plain pass); `error` for what fails outside any test; `finished`. The Rust side
// (runners/stream/) knows exactly these kinds and fields: every line is made by `line` of
// xtask_contract.cjs, which checks it against the contract the Rust types make.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { env, line } = require('./xtask_contract.cjs');

function plain(text) {
  return String(text ?? '').replace(/\u001b\[[0-9;]*m/g, '');
}

function firstLine(text) {
  if (!text) return null;
  // Strip ANSI colours; keep the first meaningful line.
  return plain(text).split('\n').map((line) => line.trim()).find((line) => line) ?? null;
}

/** Playwright's own report of an error (message, call log, stack): its last 100 lines. */
function details(error) {
  if (!error) return null;
  const lines = plain([error.message, error.stack && !String(error.stack).includes(error.message) ? error.stack : ''].join('\n')).trimEnd().split('\n');
  const kept = lines.length > 100 ? [`… ${lines.length - 100} lines above cut`, ...lines.slice(-100)] : lines;
  return kept.join('\n').slice(-16000) || null;
}

class XtaskReporter {
  constructor() {
    const target = env('EVENTS');
    this.fd = target ? fs.openSync(target, 'a') : null;
    this.root = process.cwd();
  }

  emit(kind, fields) {
    if (this.fd !== null) fs.writeSync(this.fd, line(kind, fields) + '\n');
  }

  printsToStdio() {
    return false;
  }

  onBegin(config, suite) {
    // Ids and files relative to the directory of playwright.config: `tests/e2e/auth.spec.ts › ...`.
    this.root = config.configFile ? path.dirname(config.configFile) : config.rootDir || this.root;
    const tests = suite.allTests();
    // What this run will run: the xtask checks at the end that every one of them reported. No test
    // at all is only said at the end, once no error (a global set-up that threw) explains it.
    const planned = () => {
      this.emit('collected', { total: tests.length });
      if (env('LIST') !== '1') {
        this.emit('planned', { suites: { [env('SUITE') ?? 'e2e']: tests.map((test) => this.id(test)) } });
      }
    };
    if (tests.length > 0) planned();
    else this.plannedAtEnd = planned;
    if (env('LIST') === '1') {
      const found = this.configuration(config, tests);
      this.emit('config', {
        workers: found.workers,
        fully_parallel: found.fully_parallel,
        files: found.files,
        video: found.video,
        browser_path: found.browser_path,
      });
      // The listing pass: every test with its location, for shards (`file:line` selects it).
      for (const test of tests) {
        this.emit('listed', { id: this.id(test), file: path.relative(this.root, test.location.file), line: test.location.line });
      }
    }
  }

  /** What the plan keeps of the config: the workers it names (null: Playwright's default, half the
   *  CPUs, which the preload made $XTASK_PROBE_CPUS), whether its tests run fully parallel, its
   *  test files, and whether it records video or names its own browser. */
  configuration(config, tests) {
    const probe = Number(env('PROBE_CPUS') ?? 0);
    const defaulted = probe > 0 && config.workers === Math.max(1, Math.floor(probe / 2));
    const internal = Object.getOwnPropertySymbols(config).map((symbol) => config[symbol]).find((value) => value?.projects);
    const projects = internal?.projects ?? [];
    const uses = config.projects.map((project) => project.use ?? {});
    const video = uses.some((use) => {
      const mode = typeof use.video === 'object' ? use.video?.mode : use.video;
      return mode !== undefined && mode !== 'off';
    });
    return {
      workers: defaulted ? null : config.workers,
      fully_parallel: projects.length ? projects.some((project) => project.fullyParallel ?? config.fullyParallel) : config.fullyParallel,
      files: new Set(tests.map((test) => test.location.file)).size,
      video,
      browser_path: uses.some((use) => Boolean(use.launchOptions?.executablePath)),
    };
  }

  /** `auth.spec.ts › signs in`: the file relative to the config's root, then the describe blocks and title. */
  id(test) {
    const titles = test.titlePath().slice(3); // ['', project, file, ...describes, title]
    return [path.relative(this.root, test.location.file), ...titles].join(' › ');
  }

  onTestEnd(test, result) {
    const last = result.status === 'skipped' || result.status === test.expectedStatus || result.retry >= test.retries;
    // An attempt that will be retried: the test's line comes after its last attempt.
    if (!last) return;
    const outcome = { expected: 'passed', unexpected: 'failed', flaky: 'flaky', skipped: 'skipped' }[test.outcome()];
    const failing = test.results.find((attempt) => attempt.error);
    const first = test.results[0]?.startTime;
    const failed = outcome !== 'passed' && outcome !== 'skipped';
    const location = result.error?.location ?? failing?.error?.location;
    this.emit('test', {
      id: this.id(test),
      outcome: outcome ?? 'failed',
      duration: test.results.reduce((sum, attempt) => sum + attempt.duration, 0) / 1000,
      worker: `p${result.parallelIndex}`,
      message: failed ? firstLine(failing?.error?.message) : null,
      details: outcome === 'failed' || outcome === undefined ? details(result.error ?? failing?.error) : null,
      where: failed && location ? `${path.relative(this.root, location.file)}:${location.line}` : null,
      // The attempts that failed before the last one (a flaky test's, a retried failure's).
      attempts: test.results.slice(0, -1).filter((attempt) => attempt.error).map((attempt) => ({
        message: firstLine(attempt.error.message),
        details: details(attempt.error),
      })),
      // Screenshots, traces and videos of the failed attempts: the xtask keeps them with the reports.
      artifacts: failed
        ? test.results.filter((attempt) => attempt.status !== 'passed').flatMap((attempt) =>
            attempt.attachments.filter((a) => a.path).map((a) => ({ name: a.name, path: a.path })))
        : [],
      file: path.relative(this.root, test.location.file),
      line: test.location.line,
      start: first ? new Date(first).getTime() / 1000 : null,
      // The worker's time on it, fixtures included (`duration` leaves worker fixtures out).
      stop: Date.now() / 1000,
    });
  }

  /** An error outside any test (global set-up, a config that throws): the run must say it, not count no tests. */
  onError(error) {
    this.plannedAtEnd = null;
    this.emit('error', { message: firstLine(error?.message ?? error?.value ?? String(error)) });
  }

  onEnd(result) {
    if (this.plannedAtEnd) this.plannedAtEnd();
    this.emit('finished', {});
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

module.exports = XtaskReporter;
