// The JSON API of the backend, on the same origin, with Django's session and CSRF protection.

export class ApiError extends Error {
  constructor(public status: number, message: string, public body: Record<string, unknown> = {}) {
    super(message);
  }
}

function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : '';
}

/** DRF errors nest: {"detail": "..."}, {"field": ["..."]}, or [{"field": ["..."]}] for lists. */
function messagesIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(messagesIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(messagesIn);
  return [];
}

function messageOf(status: number, body: unknown): string {
  const detail = (body as { detail?: unknown } | null)?.detail;
  if (typeof detail === 'string') return detail;
  const messages = messagesIn(body);
  return messages.length ? messages.join(' ') : `The server answered ${status}.`;
}

export async function api<T = any>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  if (method !== 'GET') headers['X-CSRFToken'] = csrfToken();
  const response = await fetch(`/api${url}`, { method, headers, body: payload, credentials: 'same-origin' });
  if (response.status === 204) return undefined as T;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, messageOf(response.status, data), data);
  return data as T;
}

export const ensureCsrf = () => api('GET', '/auth/csrf/');

export interface User { id: number; username: string; first_name: string; last_name: string; role: 'admin' | 'teacher' }
export interface Exam { id: number; title: string; course: string; pages_per_copy: number; page_count: number; status: string; copy_count: number }
export interface Copy {
  id: number; exam: number; number: number; status: string; locked_by: string | null; student_name: string | null;
  total: { points: string; max: string; on_20: string } | null; pages: string[]; actions: string[];
}
export interface Annotation { id: number; page: number; x: number; y: number; text: string }
