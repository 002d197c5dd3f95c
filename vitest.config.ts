import { defineConfig } from 'vitest/config';

const shared = ['contracts', 'hub', 'connectors', 'tests', 'bench'].map((d) => `${d}/**`);
const tier = (name: string, timeout: number) => ({
  test: {
    name,
    include: shared.map((g) => `${g}/*.${name}.spec.ts`),
    testTimeout: timeout,
    hookTimeout: timeout,
  },
});

export default defineConfig({
  test: {
    projects: [tier('unit', 10_000), tier('int', 60_000), tier('e2e', 300_000)],
  },
});
