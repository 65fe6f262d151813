// Each worker has its own backend and database: a test may destroy everything it sees.
import { expect, test } from './fixtures';

test.afterEach(async ({ backend }) => {
  backend.reset();
});

test('an administrator deletes every exam; nothing outside this worker changes', async ({ page, signIn, backend }) => {
  await signIn(page, 'alice');
  await page.goto('/#/exams');
  const deletes = page.getByRole('button', { name: /^Delete / });
  await expect(deletes.first()).toBeVisible();
  while ((await deletes.count()) > 0) {
    const before = await deletes.count();
    await deletes.first().click();
    await expect(deletes).toHaveCount(before - 1);
  }
  await expect(page.getByText('No exams yet.')).toBeVisible();

  // The template the other workers cloned still has its exams: put back from it, this worker has them again.
  backend.reset();
  await signIn(page, 'alice');
  const exams = await (await page.request.get('/api/exams/')).json();
  expect(exams.map((exam: { title: string }) => exam.title).sort()).toEqual(['Algebra midterm', 'Physics final']);
});

test('this worker is served by its own backend and database', async ({ request, backend }, testInfo) => {
  const health = await (await request.get('/api/health/')).json();
  expect(health.database).toBe(backend.database);
  expect(backend.database.endsWith(`_p${testInfo.parallelIndex}`)).toBeTruthy();
});
