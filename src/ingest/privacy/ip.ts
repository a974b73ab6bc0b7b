/**
 * The stored form of an IP address: its network prefix (IPv4 /24, IPv6 /48). The raw IP only feeds the
 * visitor id (hash.ts) and is never stored.
 */
import { isIP } from "node:net";

function v4Prefix(a: number, b: number, c: number): string {
  return `${a}.${b}.${c}.0/24`;
}

/** the 8 16-bit groups of a string that isIP() already accepted as IPv6 (zone id allowed) */
function ipv6Groups(input: string): number[] | null {
  let s = input;
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  const tail: number[] = [];
  const lastColon = s.lastIndexOf(":");
  const last = s.slice(lastColon + 1);
  if (last.includes(".")) {
    const o = last.split(".").map(Number);
    if (o.length !== 4 || o.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) return null;
    tail.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
    s = s.slice(0, lastColon); // "::ffff" from "::ffff:1.2.3.4"; ":" from "::1.2.3.4"
    if (s.endsWith(":")) s += ":";
  }
  const want = 8 - tail.length;
  const parse = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    for (const g of part.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const dbl = s.indexOf("::");
  let groups: number[];
  if (dbl >= 0) {
    const head = parse(s.slice(0, dbl));
    const rest = parse(s.slice(dbl + 2));
    if (!head || !rest) return null;
    const zeros = want - head.length - rest.length;
    if (zeros < 1) return null;
    groups = [...head, ...new Array<number>(zeros).fill(0), ...rest];
  } else {
    const all = parse(s);
    if (!all || all.length !== want) return null;
    groups = all;
  }
  groups.push(...tail);
  return groups.length === 8 ? groups : null;
}

/** RFC 5952 text form: lower-case, no leading zeros, the longest run (≥ 2) of zero groups as "::" */
function formatIpv6(groups: number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/**
 * The stored form of an IP: IPv4 → its /24 ("203.0.113.0/24"), IPv6 → its /48 ("2001:db8:1::/48"),
 * an IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 it maps; anything else → null.
 */
export function ipPrefix(ip: string): string | null {
  if (typeof ip !== "string") return null;
  const s = ip.trim();
  const kind = isIP(s);
  if (kind === 4) {
    const o = s.split(".");
    return v4Prefix(Number(o[0]), Number(o[1]), Number(o[2]));
  }
  if (kind !== 6) return null;
  const g = ipv6Groups(s);
  if (!g) return null;
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return v4Prefix(g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8);
  }
  return `${formatIpv6([g[0]!, g[1]!, g[2]!, 0, 0, 0, 0, 0])}/48`;
}
