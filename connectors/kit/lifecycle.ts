// A party's process ends cleanly on SIGTERM/SIGINT, and, when a supervisor started it with
// `ELFE_EXIT_WITH_PARENT=1` and a pipe on stdin, also when that supervisor dies (even by
// SIGKILL): the pipe closes, and no child outlives its parent unmanaged.
export function untilStopped(): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string) => {
      // Stop watching the pipe, so that the process can end once its work is closed.
      if (process.env.ELFE_EXIT_WITH_PARENT === '1') process.stdin.destroy();
      resolve(why);
    };
    process.once('SIGTERM', () => done('SIGTERM'));
    process.once('SIGINT', () => done('SIGINT'));
    if (process.env.ELFE_EXIT_WITH_PARENT === '1') {
      process.stdin.on('end', () => done('parent gone'));
      process.stdin.on('error', () => done('parent gone'));
      process.stdin.resume();
    }
  });
}
