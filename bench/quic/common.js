// Shared by the QUIC benchmark scripts: the request protocol every implementation speaks
// (the client sends N bytes on a stream and ends it; the server answers with the count as
// 8 bytes and ends), the sizes, and CPU accounting from /proc.
import { readFileSync } from 'node:fs';

export const CHUNK = 64 * 1024;
/** Flow-control windows all QUIC implementations get (same for ours and the baseline). */
export const WINDOWS = { initialMaxData: 16 << 20, initialMaxStreamData: 4 << 20 };

export function countBytes(n) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** CPU time (user + system) of a process in milliseconds, from /proc/<pid>/stat. */
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

export function selfCpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** The client's report: one JSON line. */
export function report(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}
