/**
 * Which Host names a local HTTP server answers to (the dashboard, `omnibatch metrics`, the emulator). PURE
 * but for reading this machine's addresses. A page on evil.example whose DNS name is rebound to 127.0.0.1
 * makes the browser send `Host: evil.example`: only loopback names, the bound address (every local address
 * when bound to all interfaces) and names the operator lists are served, which defeats DNS rebinding.
 */
import { isIP } from 'node:net';
import os from 'node:os';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

/** 127.0.0.0/8, ::1, ::ffff:127.x and `localhost`: addresses nobody else on the network can reach. */
export function isLoopback(host: string): boolean {
  const h = stripBrackets(host.trim().toLowerCase());
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h.startsWith('::ffff:127.');
  return false;
}

export const isWildcard = (host: string): boolean => ['0.0.0.0', '::', '[::]', ''].includes(host.trim());

export function stripBrackets(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** The host name of a Host header value (`name:port`, `[v6]:port`), lower case, without the port. */
export function hostName(value: string): string {
  const v = value.trim().toLowerCase();
  if (v.startsWith('[')) return v.slice(1, v.indexOf(']') > 0 ? v.indexOf(']') : undefined);
  const colons = v.split(':').length - 1;
  // a bare IPv6 address has several colons and no port
  return colons === 1 ? v.slice(0, v.indexOf(':')) : v;
}

/**
 * The names the dashboard answers to: loopback names, the bound address, the operator's names, and (when it
 * listens on every interface) this machine's own addresses.
 */
export function allowedHosts(bindHost: string, extra: readonly string[] = [], interfaces = localAddresses): Set<string> {
  const names = new Set<string>(LOOPBACK_NAMES);
  if (isWildcard(bindHost)) for (const a of interfaces()) names.add(a.toLowerCase());
  else names.add(stripBrackets(bindHost.trim().toLowerCase()));
  for (const e of extra) if (e.trim()) names.add(hostName(e));
  return names;
}

export function localAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}

/** Whether a request's Host header names this server (see allowedHosts). */
export function hostAllowed(hostHeader: string | string[] | undefined, allowed: ReadonlySet<string>): boolean {
  const host = Array.isArray(hostHeader) ? hostHeader[0] : hostHeader;
  return Boolean(host) && allowed.has(hostName(host!));
}
