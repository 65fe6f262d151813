// Once per run: a template database, migrated and seeded, and the seed's media files. Every worker's
// backend gets a clone of both (see fixtures.ts). The returned function is the global teardown.
import { mkdirSync, rmSync } from 'node:fs';
import { e2eEnv, manage } from './env';

export default async function globalSetup() {
  const env = e2eEnv();
  rmSync(env.seedMedia, { recursive: true, force: true });
  mkdirSync(env.seedMedia, { recursive: true });
  manage(env, ['e2e_db', 'create', env.template]);
  const template = { KORRIGO_DB_NAME: env.template, MEDIA_ROOT: env.seedMedia };
  manage(env, ['migrate', '--noinput', '-v', '0'], template);
  manage(env, ['seed_e2e', '--samples', env.samples], template);
  return async () => {
    manage(env, ['e2e_db', 'drop', env.template]);
    rmSync(env.seedMedia, { recursive: true, force: true });
    rmSync(env.samples, { recursive: true, force: true });
  };
}
