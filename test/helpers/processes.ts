/** Killing a child process at a chosen moment, for the tests of what survives a crash. */
import type { ChildProcess } from 'node:child_process';

/**
 * SIGKILLs `child` as soon as `when()` holds (polled every 5 ms); resolves once it is dead. Rejects if
 * it ends on its own first: the condition came too late to test anything.
 */
export function killWhen(child: ChildProcess, when: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      if (when()) {
        clearInterval(poll);
        child.kill('SIGKILL');
      }
    }, 5);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`the process ended (exit ${code}) before it could be killed: make the condition earlier`));
    });
  });
}
