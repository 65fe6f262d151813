// A hash router small enough to read at a glance: #/exams, #/exams/3, #/copies/12, #/login.
import { ref } from 'vue';

export interface Route { name: 'login' | 'exams' | 'exam' | 'copy'; id?: number }

function parse(hash: string): Route {
  const [, first, second] = hash.replace(/^#/, '').split('/');
  if (first === 'exams' && second) return { name: 'exam', id: Number(second) };
  if (first === 'copies' && second) return { name: 'copy', id: Number(second) };
  if (first === 'login') return { name: 'login' };
  return { name: 'exams' };
}

export const route = ref<Route>(parse(location.hash));
window.addEventListener('hashchange', () => (route.value = parse(location.hash)));

export function go(path: string) {
  location.hash = path;
}
