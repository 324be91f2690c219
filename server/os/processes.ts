// Processes of this machine, as the preparation (its lock, leftovers of killed builds) and the
// session process (leftovers of killed downloads) both ask about them.

/**
 * Whether a process with this pid exists (EPERM: it does, and belongs to someone else). A pid
 * that cannot be one of ours (0, negative, not an integer) is not: kill(0, 0) would probe our own
 * process group and answer yes.
 */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
