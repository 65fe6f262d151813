// Loaded by `cargo xtask` into the Playwright processes of a run (NODE_OPTIONS=--require), shipped
// inside its binary beside the reporter. Two jobs, both for configs nobody edited:
// - In Playwright's runner process, what a global set-up or teardown prints as a warning or an error
//   (`console.warn`, `console.error`) is also written to $XTASK_EVENTS as an `output` line, so the
//   run can quote it: a set-up that only warns (a backend it could not reach) is otherwise lost in
//   the log.
// - In each Playwright worker, the URL of a server the xtask started per worker reaches the variable
//   the config reads: for every name in $XTASK_WORKER_URL_ENVS, `<name>` becomes `<name>_<parallel
//   index>` (the worker's own server) before the config is loaded.
'use strict';
const fs = require('node:fs');
const { env, line } = require('./xtask_contract.cjs');

const worker = process.env.TEST_PARALLEL_INDEX;
if (worker !== undefined) {
  for (const name of (env('WORKER_URL_ENVS') ?? '').split(',').filter(Boolean)) {
    const own = process.env[`${name}_${worker}`];
    if (own !== undefined) process.env[name] = own;
  }
}

const runner = worker === undefined && process.argv.slice(2).includes('test') && /playwright/.test(process.argv[1] ?? '');
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
