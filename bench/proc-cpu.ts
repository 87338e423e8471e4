/** CPU time and resident memory of another process from /proc/<pid>/, for the benchmark's per-transaction and per-session figures. */
import { readFileSync } from 'node:fs';

// USER_HZ is 100 on every Linux build Node supports.
const clockTicksPerSecond = 100;

/**
 * User + system CPU of `pid` in µs; with `includeReapedChildren`, plus that of children it has waited for
 * (socat forks one per connection). Undefined when /proc is unreadable.
 */
export function procCpuMicros(pid: number, includeReapedChildren = false): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: utime, stime, cutime, cstime are the 12th–15th of those.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    const ticks = (fields[11] ?? Number.NaN) + (fields[12] ?? Number.NaN) + (includeReapedChildren ? (fields[13] ?? Number.NaN) + (fields[14] ?? Number.NaN) : 0);
    return Number.isFinite(ticks) ? (ticks * 1e6) / clockTicksPerSecond : undefined;
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies of all CPUs from /proc/stat, or undefined off Linux. */
export function machineJiffies(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    // idle and iowait
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Resident set size of `pid` in bytes (VmRSS of /proc/<pid>/status), or undefined when unreadable. */
export function procRssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** Soft limit on open files of this process (/proc/self/limits), or undefined when unreadable or unlimited. */
export function openFilesSoftLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}
