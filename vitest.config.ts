import { defineConfig } from 'vitest/config';

export default defineConfig({
  // examples/pulumi is a project of its own that installs the packed SDK; in this repository's
  // suite its import resolves to the SDK's source.
  resolve: {
    alias: {
      '@roster-dev/pulumi-roster': new URL('./provider/sdk/nodejs/index.ts', import.meta.url)
        .pathname,
    },
  },
  test: {
    include: [
      'src/**/*.test.ts',
      'test/**/*.test.ts',
      'provider/**/*.test.ts',
      'examples/**/*.test.ts',
      'bench/**/*.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    globalSetup: ['test/support/global-setup.ts'],
  },
});
