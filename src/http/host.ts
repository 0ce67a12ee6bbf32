/** Whether an address or Host names only this machine. */

/** 127.0.0.0/8, ::1 or localhost (brackets and a `:port` suffix of a Host header allowed). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^(\[[^\]]*\]|[^:]*)(:\d+)?$/, '$1').replace(/^\[|\]$/g, '').toLowerCase();
  return /^127(\.\d{1,3}){3}$/.test(h) || h === '::1' || h === 'localhost';
}
