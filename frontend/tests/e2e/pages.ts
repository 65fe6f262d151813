// Page objects for the screens more than one spec uses.
import type { Locator, Page } from '@playwright/test';

export class LoginPage {
  constructor(private page: Page) {}

  async open() {
    await this.page.goto('/#/login');
  }

  async signIn(username: string, password: string) {
    await this.page.getByLabel('Username').fill(username);
    await this.page.getByLabel('Password').fill(password);
    await this.page.getByRole('button', { name: 'Sign in' }).click();
  }
}

export class ExamPage {
  readonly copies: Locator;

  constructor(private page: Page) {
    this.copies = page.getByRole('region', { name: 'Copies' }).getByRole('row');
  }

  async open(id: number) {
    await this.page.goto(`/#/exams/${id}`);
  }

  async upload(path: string) {
    await this.page.getByLabel('Scan (PDF)').setInputFiles(path);
    await this.page.getByRole('button', { name: 'Upload scan' }).click();
  }
}

export class GradingPage {
  readonly status: Locator;
  readonly alert: Locator;

  constructor(private page: Page) {
    this.status = page.getByTestId('copy-status');
    this.alert = page.getByRole('alert');
  }

  async open(copyId: number) {
    await this.page.goto(`/#/copies/${copyId}`);
  }

  button(name: string) {
    return this.page.getByRole('button', { name, exact: true });
  }

  async score(points: string, max: string) {
    await this.page.getByLabel('Points for Q1').fill(points);
    await this.page.getByLabel('Maximum for Q1').fill(max);
    await this.button('Save scores').click();
  }

  async annotate(page: number, text: string) {
    await this.page.getByLabel('Page', { exact: true }).fill(String(page));
    await this.page.getByLabel('Comment').fill(text);
    await this.button('Add annotation').click();
  }
}
