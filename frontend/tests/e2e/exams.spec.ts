import { join } from 'node:path';
import { expect, test } from './fixtures';
import { ExamPage } from './pages';

test.beforeEach(async ({ page, signIn }) => {
  await signIn(page, 'bob');
});

test('the seeded exams are listed with their copies', async ({ page }) => {
  await page.goto('/#/exams');
  const algebra = page.getByRole('row', { name: /Algebra midterm/ });
  await expect(algebra).toContainText('MATH101');
  await expect(algebra).toContainText('processed');
  await expect(algebra.getByRole('cell').nth(3)).toHaveText('4');
  await expect(page.getByRole('row', { name: /Physics final/ })).toContainText('draft');
});

test('create an exam, upload its scan and split it into copies', async ({ page, backend }) => {
  await page.goto('/#/exams');
  await page.getByLabel('Title').fill('Chemistry quiz');
  await page.getByLabel('Course').fill('CHEM110');
  await page.getByRole('button', { name: 'Create exam' }).click();
  await expect(page.getByRole('heading', { name: 'Chemistry quiz' })).toBeVisible();

  const exam = new ExamPage(page);
  await exam.upload(join(backend.env.samples, 'scan-3-copies.pdf'));
  await expect(page.getByRole('status')).toHaveText('Scan uploaded: 3 pages.');
  await page.getByRole('button', { name: 'Split into copies' }).click();
  await expect(page.getByRole('status')).toHaveText('Split into 3 copies.');
  await expect(exam.copies).toHaveCount(4); // a header row and three copies
  await expect(exam.copies.nth(1)).toContainText('ready');
});

test('a file that is not a PDF is rejected with the reason', async ({ page, backend }) => {
  await page.goto('/#/exams');
  await page.getByRole('link', { name: 'Physics final' }).click();
  await new ExamPage(page).upload(join(backend.env.samples, 'photo.pdf'));
  await expect(page.getByRole('alert')).toHaveText('The file is not a PDF (it does not start with %PDF-).');
  await expect(page.getByRole('button', { name: 'Split into copies' })).toBeDisabled();
});

test('a scan whose pages do not divide into copies is rejected', async ({ page, backend }) => {
  await page.goto('/#/exams');
  await page.getByLabel('Title').fill('Two-page test');
  await page.getByLabel('Pages per copy').fill('2');
  await page.getByRole('button', { name: 'Create exam' }).click();
  await new ExamPage(page).upload(join(backend.env.samples, 'scan-3-pages.pdf'));
  await expect(page.getByRole('alert')).toContainText('not a multiple of 2 pages per copy');
});

test('an exam without a scan cannot be split yet', async ({ page }) => {
  await page.goto('/#/exams');
  await page.getByRole('link', { name: 'Physics final' }).click();
  await expect(page.getByText('No copies yet: upload the scan, then split it.')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Split into copies' })).toBeDisabled();
});
