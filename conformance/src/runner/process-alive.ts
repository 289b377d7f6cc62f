/**
 * Whether a process exists (for dropping databases of crashed runs). The SDK has a stricter
 * version that also rules out zombies, but does not export it; a zombie here only means a
 * leftover database survives until the next run.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
