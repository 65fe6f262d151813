// Once per run: a template database, migrated and seeded, and the seed's media files. Every worker's
// backend gets a clone of both (see fixtures.ts). The returned function is the global teardown. Under
// `cargo xtask` there is nothing to do: it keeps the seeded template between runs itself.
// Run by hand (no `cargo xtask`), the run also gets an id and a media base of its own here, so that
// two hand runs on one server do not collide, and the media base is removed at the end.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eEnv, manage, python, span } from './env';

export default async function globalSetup() {
  // Under `cargo xtask`, its servers are up already, each on its own copy of the seeded template.
  if (process.env.KORRIGO_URL && process.env.XTASK_SERVER_INSTANCES_KORRIGO) return async () => {};
  // Set here, these reach every worker process too.
  process.env.XTASK_RUN_ID ??= `h${Math.random().toString(36).slice(2, 9).padEnd(7, '0')}`;
  const ownMediaBase = !process.env.XTASK_MEDIA_BASE;
  if (ownMediaBase) {
    process.env.XTASK_MEDIA_BASE = mkdtempSync(join(tmpdir(), 'korrigo-e2e-'));
  }
  const env = e2eEnv();
  rmSync(env.serverLogs, { recursive: true, force: true });
  mkdirSync(env.serverLogs, { recursive: true });
  rmSync(env.seedMedia, { recursive: true, force: true });
  mkdirSync(env.seedMedia, { recursive: true });
  const template = { KORRIGO_DB_NAME: env.template, MEDIA_ROOT: env.seedMedia };
  if (process.env.XTASK_DB_SPEC) {
    // Under the xtask: a clone of its migrated template, kept between runs (it times its own steps).
    python(env, ['-m', 'xtask_runner.db.templates', 'clone', env.template]);
  } else {
    span('e2e set-up', 'template database', () => manage(env, ['e2e_db', 'create', env.template]));
    span('e2e set-up', 'migrate the template', () => manage(env, ['migrate', '--noinput', '-v', '0'], template));
  }
  span('e2e set-up', 'seed the template', () => manage(env, ['seed_e2e', '--samples', env.samples], template));
  return async () => {
    manage(env, ['e2e_db', 'drop', env.template]);
    rmSync(ownMediaBase ? env.mediaBase : env.seedMedia, { recursive: true, force: true });
    rmSync(env.samples, { recursive: true, force: true });
  };
}
