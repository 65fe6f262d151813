import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig, devices } from '@playwright/test';

// The system Chromium when there is one (XTASK_CHROMIUM, then Debian's headless shell, the build
// Playwright runs headless tests in, then Debian's full browser), else Playwright's own.
const chromium = [process.env.XTASK_CHROMIUM, '/usr/bin/chromium-headless-shell', '/usr/bin/chromium'].find(
  (path) => path && existsSync(path),
);
const artifacts = process.env.XTASK_ARTIFACTS ?? 'test-results';

export default defineConfig({
  testDir: './tests/e2e',
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  retries: Number(process.env.XTASK_RETRIES ?? 0),
  timeout: 30_000,
  expect: { timeout: 7_000 },
  outputDir: join(artifacts, 'test-results'),
  reporter: [['list']],
  globalSetup: './tests/e2e/global-setup.ts',
  use: {
    trace: 'on-first-retry',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: chromium,
      // A closed network stalls Chromium's background services; these keep it quiet.
      args: ['--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    },
  },
  projects: [{ name: 'chromium', use: { ...devices['Desktop Chrome'], viewport: { width: 1280, height: 900 } } }],
});
