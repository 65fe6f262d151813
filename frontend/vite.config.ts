import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// The backend serves dist/ itself (one origin for the app and the API); `npm run dev` proxies /api.
export default defineConfig({
  plugins: [vue()],
  server: { proxy: { '/api': 'http://127.0.0.1:8000', '/media': 'http://127.0.0.1:8000' } },
});
