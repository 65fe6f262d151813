import { expect, test } from './fixtures';
import { LoginPage } from './pages';

test('signing in with the right password shows the exam list', async ({ page }) => {
  const login = new LoginPage(page);
  await login.open();
  await login.signIn('bob', 'bob-pass');
  await expect(page.getByRole('heading', { name: 'Exams' })).toBeVisible();
  await expect(page.getByText('Bob (teacher)')).toBeVisible();
});

test('a wrong password is refused with a visible error', async ({ page }) => {
  const login = new LoginPage(page);
  await login.open();
  await login.signIn('bob', 'not-the-password');
  await expect(page.getByRole('alert')).toHaveText('Wrong username or password.');
  await expect(page.getByRole('heading', { name: 'Sign in to Korrigo' })).toBeVisible();
});

test('signing out returns to the sign-in form, also after a reload', async ({ page, signIn }) => {
  await signIn(page, 'carol');
  await page.goto('/#/exams');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await page.reload();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
});

test('the session survives a reload', async ({ page }) => {
  const login = new LoginPage(page);
  await login.open();
  await login.signIn('dan', 'dan-pass');
  await expect(page.getByRole('heading', { name: 'Exams' })).toBeVisible();
  await page.reload();
  await expect(page.getByText('Dan (teacher)')).toBeVisible();
});

test('only an administrator is offered to delete exams', async ({ page, signIn }) => {
  await signIn(page, 'bob');
  await page.goto('/#/exams');
  await expect(page.getByRole('link', { name: 'Algebra midterm' })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Delete/ })).toHaveCount(0);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await new LoginPage(page).signIn('alice', 'alice-pass');
  await expect(page.getByRole('button', { name: 'Delete Algebra midterm' })).toBeVisible();
});
