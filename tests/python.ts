import { execFileSync } from 'node:child_process';

/** Whether /usr/bin/python3 here can import `module` (numpy, pyarrow): checks against Python's own readers skip without it. */
export function pythonHas(module: string): boolean {
  try {
    execFileSync('python3', ['-c', `import ${module}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
