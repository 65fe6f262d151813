// The contract with `cargo xtask`, as its Rust types make it (`contract.json` beside this file,
// written by the xtask at every run): the names of the environment variables (`ENV.EVENTS` is
// "XTASK_EVENTS"), and `line(kind, fields)`, which makes one event line and fails on a field the
// Rust side does not have or one it needs and is not given. Shipped inside the binary with the
// reporter and the preload, which write every line through it.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const defined = JSON.parse(fs.readFileSync(path.join(__dirname, 'contract.json'), 'utf8'));

const ENV = new Proxy(defined.env, {
  get(names, key) {
    if (typeof key !== 'string' || !(key in names)) throw new Error(`the xtask's contract names no variable ${String(key)}`);
    return names[key];
  },
});

/** The value of a contract variable in this process's environment. */
function env(name) {
  return process.env[ENV[name]];
}

function fits(value, kind) {
  if (kind.startsWith('optional<')) return value === null || value === undefined || fits(value, kind.slice(9, -1));
  if (kind.startsWith('list<') || kind.startsWith('pair<')) return Array.isArray(value);
  if (kind.startsWith('map<')) return typeof value === 'object' && value !== null && !Array.isArray(value);
  if (kind === 'string') return typeof value === 'string';
  if (kind === 'integer') return Number.isInteger(value);
  if (kind === 'number') return typeof value === 'number';
  if (kind === 'boolean') return typeof value === 'boolean';
  if (kind in defined.words) return defined.words[kind].includes(value);
  return typeof value === 'object' && value !== null;
}

/** One event line of kind `kind`, checked against its Rust shape. */
function line(kind, fields) {
  const shapeName = defined.events[kind];
  if (!shapeName) throw new Error(`the xtask reads no event \`${kind}\``);
  const shape = defined.shapes[shapeName];
  const unknown = Object.keys(fields).filter((key) => !(key in shape));
  if (unknown.length) throw new Error(`event \`${kind}\`: the xtask's ${shapeName} has no field ${unknown.join(', ')}`);
  const missing = Object.keys(shape).filter((key) => shape[key].required && !(key in fields));
  if (missing.length) throw new Error(`event \`${kind}\`: ${shapeName} needs ${missing.join(', ')}`);
  for (const [key, value] of Object.entries(fields)) {
    if (!fits(value, shape[key].type)) throw new Error(`event \`${kind}\`: ${shapeName}.${key} must be ${shape[key].type}`);
  }
  return JSON.stringify({ event: kind, ...fields });
}

module.exports = { ENV, env, line };
