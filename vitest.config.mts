import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    globalSetup: ["./test/support/build-dist.ts", "./test/support/public-packs.setup.ts"],
    reporters: ["default", "./test/support/totals-reporter.mts"],
  },
});
