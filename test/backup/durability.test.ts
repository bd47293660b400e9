/**
 * A failed directory fsync after the commit. Regression: it was ignored, so a backup that
 * might not survive a power cut was reported as safely done — and a caller would then
 * delete what it was meant to replace. The failure is injected with a small LD_PRELOAD shim
 * around libc's fsync (compiled here with the system's C compiler) in a child process running
 * the built package: the real file system, the real call, an error where the kernel could
 * give one (EIO from a failing disk, or a network file system).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { onCi, withTempDir } from '../helpers/tools.js';

const DIST = resolve('dist/index.js');
const built = existsSync(DIST);
const hasCc = spawnSync('cc', ['--version']).status === 0;
const ready = built && hasCc && process.platform === 'linux';
if (!ready && onCi) {
  it('dist/ is built and a C compiler is installed (required when CI=true)', () => {
    throw new Error('the durability test needs npm run build and cc');
  });
}

const SHIM = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
int fsync(int fd) {
  static int (*real)(int);
  struct stat st;
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) { errno = EIO; return -1; }
  return real(fd);
}
`;

describe.skipIf(!ready)(`a failed directory fsync after the commit${ready ? '' : ' (skipped: needs npm run build and cc on Linux)'}`, () => {
  it('is an error naming the backup and the directory, not a silent success', () =>
    withTempDir(async (tmp) => {
      await writeFile(tmp.file('shim.c'), SHIM);
      const cc = spawnSync('cc', ['-shared', '-fPIC', '-o', tmp.file('shim.so'), tmp.file('shim.c'), '-ldl'], { encoding: 'utf8' });
      expect(cc.status, cc.stderr).toBe(0);
      await mkdir(join(tmp.path, 'src'));
      await writeFile(join(tmp.path, 'src', 'a.txt'), 'hello\n');
      const code = `import(${JSON.stringify(DIST)}).then((m) => m.fullBackup(${JSON.stringify(tmp.file('src'))}, { workDir: ${JSON.stringify(tmp.file('work'))} })).then(
        () => process.stdout.write('ok'),
        (e) => process.stdout.write(JSON.stringify({ code: e.code, message: e.message })))`;
      const run = (preload: boolean) =>
        spawnSync(process.execPath, ['--input-type=module', '-e', code], {
          encoding: 'utf8',
          env: { ...process.env, ...(preload ? { LD_PRELOAD: tmp.file('shim.so') } : {}) },
        });
      const failed = run(true);
      expect(failed.stderr).toBe('');
      const err = JSON.parse(failed.stdout) as { code: string; message: string };
      expect(err.code).toBe('EIO');
      expect(err.message).toMatch(/backup \d{8}T\d{9}Z-\d{3} was written, but syncing .*work\/src.*may not survive a power cut/);
      expect(run(false).stdout, 'without the fault the same backup succeeds').toBe('ok');
    }));
});
