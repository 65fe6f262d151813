// Loaded by `cargo xtask` into the Playwright processes of a run (NODE_OPTIONS=--require), shipped
// inside its binary beside the reporter. Three jobs, each for configs nobody edited:
// - In Playwright's runner process, what a global set-up or teardown prints as a warning or an error
//   (`console.warn`, `console.error`) is also written to $XTASK_EVENTS as an `output` line, so the
//   run can quote it: a set-up that only warns (a backend it could not reach) is otherwise lost in
//   the log.
// - In each Playwright worker, the URL of a server the xtask started per worker reaches the variable
//   the config reads: for every name in $XTASK_WORKER_URL_ENVS, reading `<name>` gives
//   `<name>_<parallel index>` (the worker's own server). Playwright sets the index after the process
//   starts and before it loads the config, so the lookup happens when the variable is read.
// - In the listing pass, the runner sees $XTASK_PROBE_CPUS CPUs, so that a config's default worker
//   count (half the CPUs) is told apart from a number it names (the reporter's `config` line).
'use strict';
const fs = require('node:fs');
const { env, line } = require('./xtask_contract.cjs');

const worker = /workerProcessEntry/.test(process.argv[1] ?? '');
const runner = !worker && process.argv.slice(2).includes('test') && /playwright/.test(process.argv[1] ?? '');

const perWorker = (env('WORKER_URL_ENVS') ?? '').split(',').filter(Boolean);
if (worker && perWorker.length) {
  process.env = new Proxy(process.env, {
    get(variables, name) {
      const index = variables.TEST_PARALLEL_INDEX;
      if (typeof name === 'string' && index !== undefined && perWorker.includes(name)) {
        const own = variables[`${name}_${index}`];
        if (own !== undefined) return own;
      }
      return Reflect.get(variables, name);
    },
  });
}

const probe = Number(env('PROBE_CPUS') ?? 0);
if (runner && env('LIST') === '1' && probe > 0) {
  const os = require('node:os');
  const cpus = os.cpus();
  os.cpus = () => Array.from({ length: probe }, (_, index) => cpus[index % cpus.length]);
}

const target = env('EVENTS');
if (runner && target && env('LIST') !== '1') {
  const util = require('node:util');
  for (const level of ['warn', 'error']) {
    const original = console[level].bind(console);
    console[level] = (...args) => {
      try {
        const text = util.format(...args).replace(/\u001b\[[0-9;]*m/g, '').trim();
        if (text) fs.appendFileSync(target, line('output', { text: text.slice(0, 2000) }) + '\n');
      } catch {
        // The event file is the run's: a write that fails must not fail the set-up that warned.
      }
      original(...args);
    };
  }
}
