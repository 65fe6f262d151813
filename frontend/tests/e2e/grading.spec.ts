import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { csrfHeaders, expect, signInRequest, test } from './fixtures';
import { GradingPage } from './pages';

test('grade a copy: lock, score, annotate, submit', async ({ page, signIn, processedExam, backend }) => {
  await signIn(page, 'bob');
  const grading = new GradingPage(page);
  await grading.open(processedExam.copyIds[0]);
  await expect(grading.status).toHaveText('ready');
  await grading.button('Take lock').click();
  await expect(grading.status).toHaveText('locked');
  await grading.score('7.5', '10');
  await expect(page.getByLabel('Total')).toHaveText('7.5 / 10 · 15/20');
  await grading.annotate(1, 'Units missing in the final answer');
  await expect(page.getByRole('listitem').filter({ hasText: 'Units missing' })).toHaveText('Page 1: Units missing in the final answer');
  await expect(page.getByRole('img', { name: 'Page 1' })).toBeVisible();

  // The grading screen as a person sees it, kept with the run's artifacts.
  mkdirSync(backend.env.artifacts, { recursive: true });
  await page.screenshot({ path: join(backend.env.artifacts, 'grading-screen.png'), fullPage: true });

  await grading.button('Submit grade').click();
  await expect(grading.status).toHaveText('graded');
  await expect(grading.button('Finalize')).toBeVisible();
});

test('a copy locked by another grader says who holds it', async ({ page, signIn, processedExam, browser, backend }) => {
  const carol = await browser.newContext({ baseURL: backend.url });
  await signInRequest(carol.request, 'carol');
  const locked = await carol.request.post(`/api/copies/${processedExam.copyIds[1]}/lock/`, { headers: await csrfHeaders(carol.request) });
  expect(locked.ok()).toBeTruthy();
  await carol.close();

  await signIn(page, 'bob');
  const grading = new GradingPage(page);
  await grading.open(processedExam.copyIds[1]);
  await expect(page.getByText('locked by carol')).toBeVisible();
  await expect(grading.button('Take lock')).toHaveCount(0);
  await expect(grading.button('Save scores')).toBeDisabled();
});

test('two graders race for one copy: the second gets a clear error', async ({ page, signIn, processedExam, browser, backend }) => {
  await signIn(page, 'bob');
  const grading = new GradingPage(page);
  await grading.open(processedExam.copyIds[2]);
  await expect(grading.button('Take lock')).toBeVisible();

  const dan = await browser.newContext({ baseURL: backend.url });
  await signInRequest(dan.request, 'dan');
  await dan.request.post(`/api/copies/${processedExam.copyIds[2]}/lock/`, { headers: await csrfHeaders(dan.request) });
  await dan.close();

  await grading.button('Take lock').click();
  await expect(grading.alert).toHaveText('This copy is being graded by dan.');
});

test('releasing the lock makes the copy ready again', async ({ page, signIn, processedExam }) => {
  await signIn(page, 'bob');
  const grading = new GradingPage(page);
  await grading.open(processedExam.copyIds[0]);
  await grading.button('Take lock').click();
  await expect(grading.status).toHaveText('locked');
  await grading.button('Release lock').click();
  await expect(grading.status).toHaveText('ready');
  await expect(page.getByRole('status')).toHaveText('Lock released.');
});

test('a graded copy can be finalized, and then no longer changed', async ({ page, signIn, processedExam }) => {
  await signIn(page, 'bob');
  const grading = new GradingPage(page);
  await grading.open(processedExam.copyIds[1]);
  await grading.button('Take lock').click();
  await grading.score('4', '5');
  await expect(page.getByRole('status')).toHaveText('Scores saved.');
  await grading.button('Submit grade').click();
  await expect(grading.status).toHaveText('graded');
  await grading.button('Finalize').click();
  await expect(grading.status).toHaveText('finalized');
  await expect(grading.button('Take lock')).toHaveCount(0);
  await expect(grading.button('Finalize')).toHaveCount(0);
});

test('points above the maximum are refused', async ({ page, signIn, processedExam }) => {
  await signIn(page, 'bob');
  const grading = new GradingPage(page);
  await grading.open(processedExam.copyIds[2]);
  await grading.button('Take lock').click();
  await grading.score('12', '10');
  await expect(grading.alert).toContainText('Points must be between 0 and 10');
  await expect(page.getByLabel('Total')).toHaveCount(0);
});

test('every page of a copy is shown', async ({ page, signIn }) => {
  await signIn(page, 'bob');
  await page.goto('/#/exams');
  await page.getByRole('link', { name: 'Algebra midterm' }).click();
  await page.getByRole('link', { name: 'Open copy 1' }).click();
  await expect(page.getByRole('img', { name: /^Page \d$/ })).toHaveCount(2);
  await expect(page.getByText('Bernard Léa (S101)')).toBeVisible();
});
