// What an E2E run needs from its environment. `cargo xtask test-e2e` provides all of it; by hand,
// DATABASE_URL (a PostgreSQL server you may create databases on) is the only required variable.
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const frontendDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface E2eEnv {
  backendDir: string;
  python: string;
  databaseUrl: string;
  mediaBase: string;
  /** test_viatique_<run>_<suite>: worker databases are <prefix>_p<parallelIndex>. */
  prefix: string;
  template: string;
  seedMedia: string;
  samples: string;
  artifacts: string;
  /** One log per worker backend, kept after the run like Playwright's own results. */
  serverLogs: string;
}

export function e2eEnv(): E2eEnv {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    throw new Error('DATABASE_URL is not set: run `cargo xtask test-e2e`, or set it to a PostgreSQL server where databases may be created');
  }
  const backendDir = process.env.XTASK_BACKEND_DIR ?? resolve(frontendDir, '../backend');
  // Both are set by `cargo xtask`, or by the global setup in a hand run.
  const runId = process.env.XTASK_RUN_ID ?? 'local';
  const mediaBase = process.env.XTASK_MEDIA_BASE ?? join(tmpdir(), `korrigo-e2e-${runId}`);
  // The exact name the xtask gives the session (and drops at the end): never rebuilt here.
  const prefix = process.env.XTASK_TEST_DATABASE || `test_viatique_${runId}_e2e`;
  const artifacts = process.env.XTASK_ARTIFACTS ?? join(frontendDir, 'test-results');
  return {
    backendDir,
    python: process.env.XTASK_PYTHON ?? join(backendDir, '.venv/bin/python'),
    databaseUrl,
    mediaBase,
    prefix,
    template: `${prefix}_tpl`,
    seedMedia: join(mediaBase, 'seed'),
    samples: join(mediaBase, 'samples'),
    artifacts,
    serverLogs: join(artifacts, 'servers'),
  };
}

/** Runs `python manage.py ...` in the backend, with extra environment; throws with its output. */
export function manage(env: E2eEnv, args: string[], extra: Record<string, string> = {}): string {
  return python(env, ['manage.py', ...args], extra);
}

/** Runs the backend's Python in the backend directory, with extra environment; throws with its output. */
export function python(env: E2eEnv, args: string[], extra: Record<string, string> = {}): string {
  try {
    return execFileSync(env.python, args, {
      cwd: env.backendDir,
      env: { ...process.env, DJANGO_SETTINGS_MODULE: 'config.settings', ...extra },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    const failed = error as { stderr?: string; stdout?: string; message: string };
    const output = `${failed.stdout ?? ''}${failed.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`${args.join(' ')} failed:\n${output || failed.message}`);
  }
}

/** Tells `cargo xtask` how long a set-up step took (a box on its run's timeline); a no-op by hand. */
export function span<T>(lane: string, name: string, work: () => T): T {
  const start = Date.now() / 1000;
  const value = work();
  if (process.env.XTASK_EVENTS) {
    const event = { event: 'span', lane, name, start, stop: Date.now() / 1000 };
    appendFileSync(process.env.XTASK_EVENTS, `${JSON.stringify(event)}\n`);
  }
  return value;
}
