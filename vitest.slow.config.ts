// `npm run test:slow`: the long campaigns kept out of `npm test` (a 4 GiB stream through
// every engine, backups killed at random moments many times, hundreds of random
// corruptions, forty backups to S3 through a faulty network). `npm test` runs a sample of
// each campaign; CI runs both.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'test/rsync/large-file.test.ts',
      'test/backup/kill.test.ts',
      'test/backup/corruption-campaign.test.ts',
      'test/restore/race.test.ts',
      'test/restore/sparse.test.ts',
      'test/repository/faults.test.ts',
    ],
    // The AWS SDK warns in every test process that its support of Node 20 will end.
    env: { IBT_SLOW: '1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 3_600_000,
    hookTimeout: 3_600_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
