// Every Playwright worker gets its own backend: a gunicorn process on a free port, serving its own
// clone of the seeded template database and its own media root. Tests may therefore change or delete
// anything; other workers never see it. Under `cargo xtask`, the xtask starts these backends itself
// (`[[suite.server]]` in xtask.toml, per worker: KORRIGO_URL is this worker's); by hand, this fixture
// starts one per worker. Import `test` and `expect` from here, not from @playwright/test.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test as base, expect, type APIRequestContext, type Page } from '@playwright/test';
import { e2eEnv, manage, python, span, type E2eEnv } from './env';

export { expect };

export type UserName = 'alice' | 'bob' | 'carol' | 'dan';

export interface Backend {
  url: string;
  port: number;
  database: string;
  mediaRoot: string;
  env: E2eEnv;
  /** Puts the database and media back as seeded (for tests that wipe data). */
  reset(): void;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function lastLines(path: string, count = 20): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-count).join('\n');
  } catch {
    return '(no server log)';
  }
}

async function waitHealthy(url: string, server: ChildProcess, log: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) {
      throw new Error(`the backend exited with ${server.exitCode} before it was healthy; last lines of ${log}:\n${lastLines(log)}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the backend was not healthy at ${url} within ${timeoutMs / 1000} s; last lines of ${log}:\n${lastLines(log)}`);
}

async function stop(server: ChildProcess) {
  if (server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  const timer = setTimeout(() => server.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Signs a browser context's request client in through the API (session cookie + CSRF). */
export async function signInRequest(request: APIRequestContext, user: UserName) {
  await request.get('/api/auth/csrf/');
  const { cookies } = await request.storageState();
  const token = cookies.find((cookie) => cookie.name === 'csrftoken')?.value ?? '';
  const response = await request.post('/api/auth/login/', {
    data: { username: user, password: `${user}-pass` },
    headers: { 'X-CSRFToken': token },
  });
  expect(response.ok(), `sign-in of ${user}`).toBeTruthy();
}

export async function csrfHeaders(request: APIRequestContext) {
  const { cookies } = await request.storageState();
  return { 'X-CSRFToken': cookies.find((cookie) => cookie.name === 'csrftoken')?.value ?? '' };
}

interface TestFixtures {
  /** Signs the page's context in as a seeded user (password `<name>-pass`) without the login form. */
  signIn: (page: Page, user: UserName) => Promise<void>;
  /** A new exam of 3 one-page copies, uploaded and split through the API, owned by bob. */
  processedExam: { id: number; title: string; copyIds: number[] };
}

/** This worker's backend as `cargo xtask` started it (`XTASK_SERVER_INSTANCES_KORRIGO`), if it did. */
function xtaskBackend(index: number): Backend | undefined {
  const instances = process.env.XTASK_SERVER_INSTANCES_KORRIGO;
  if (!process.env.KORRIGO_URL || !instances) return undefined;
  const mine = JSON.parse(instances)[index];
  const env = e2eEnv();
  const url = process.env.KORRIGO_URL;
  return {
    url,
    port: Number(new URL(url).port),
    database: mine.databases.default,
    mediaRoot: mine.media,
    env: { ...env, samples: join(mine.media, 'samples') },
    // The xtask puts this worker's database and media back as its kept, seeded template has them.
    reset: () => {
      python(env, ['-m', 'xtask_runner.db.servers', 'reset', mine.spec, String(index)]);
    },
  };
}

export const test = base.extend<TestFixtures, { backend: Backend }>({
  backend: [
    async ({}, use, workerInfo) => {
      const given = xtaskBackend(workerInfo.parallelIndex);
      if (given) {
        await use(given);
        return;
      }
      const env = e2eEnv();
      const index = workerInfo.parallelIndex;
      const database = `${env.prefix}_p${index}`;
      const mediaRoot = join(env.mediaBase, `p${index}`);
      const restore = () => {
        manage(env, ['e2e_db', 'clone', env.template, database]);
        rmSync(mediaRoot, { recursive: true, force: true });
        cpSync(env.seedMedia, mediaRoot, { recursive: true });
      };
      const started = Date.now() / 1000;
      span(`p${index} backend`, 'clone the template', restore);
      mkdirSync(mediaRoot, { recursive: true });
      const port = await freePort();
      const log = join(env.serverLogs, `server-p${index}.log`);
      const output = openSync(log, 'a');
      // Not detached: the server stays in the run's process group, so stopping the run stops it too.
      const server = spawn(
        env.python,
        ['-m', 'gunicorn', 'config.wsgi:application', '--bind', `127.0.0.1:${port}`, '--workers', '1', '--threads', '4', '--graceful-timeout', '3'],
        {
          cwd: env.backendDir,
          env: {
            ...process.env,
            DJANGO_SETTINGS_MODULE: 'config.settings',
            DJANGO_ALLOWED_HOSTS: '127.0.0.1,localhost',
            KORRIGO_DB_NAME: database,
            MEDIA_ROOT: mediaRoot,
          },
          stdio: ['ignore', output, output],
        },
      );
      const url = `http://127.0.0.1:${port}`;
      try {
        await waitHealthy(`${url}/api/health/`, server, log, 30_000);
        // Tell `cargo xtask` which port and database this worker got (it lists them in its summary).
        if (process.env.XTASK_EVENTS) {
          const event = { event: 'service', worker: `p${index}`, detail: `${url} database ${database}`, start: started };
          appendFileSync(process.env.XTASK_EVENTS, `${JSON.stringify(event)}\n`);
        }
        await use({ url, port, database, mediaRoot, env, reset: restore });
      } finally {
        await stop(server);
        manage(env, ['e2e_db', 'drop', database]);
        rmSync(mediaRoot, { recursive: true, force: true });
      }
    },
    { scope: 'worker', auto: true, timeout: 90_000 },
  ],

  baseURL: async ({ backend }, use) => {
    await use(backend.url);
  },

  signIn: async ({}, use) => {
    await use(async (page, user) => {
      await signInRequest(page.request, user);
    });
  },

  processedExam: async ({ playwright, backend }, use, testInfo) => {
    const request = await playwright.request.newContext({ baseURL: backend.url });
    await signInRequest(request, 'bob');
    const title = `Exam ${testInfo.testId.slice(0, 8)} r${testInfo.retry}`;
    const created = await request.post('/api/exams/', { data: { title, course: 'E2E', pages_per_copy: 1 }, headers: await csrfHeaders(request) });
    expect(created.ok()).toBeTruthy();
    const exam = await created.json();
    const upload = await request.post(`/api/exams/${exam.id}/upload/`, {
      multipart: { file: { name: 'scan.pdf', mimeType: 'application/pdf', buffer: readFileSync(join(backend.env.samples, 'scan-3-copies.pdf')) } },
      headers: await csrfHeaders(request),
    });
    expect(upload.ok(), await upload.text()).toBeTruthy();
    expect((await request.post(`/api/exams/${exam.id}/process/`, { headers: await csrfHeaders(request) })).ok()).toBeTruthy();
    const copies = await (await request.get(`/api/copies/?exam=${exam.id}`)).json();
    await request.dispose();
    await use({ id: exam.id, title, copyIds: copies.map((copy: { id: number }) => copy.id) });
  },
});
