/**
 * What must never be in a log line: bearer tokens, JWTs, email addresses, client IPs. Used by
 * tests/security/zz-log-scan.test.ts and, over every line of the whole run, by the preload's afterAll.
 */

/** the fixtures' contact data and addresses (tests/helpers/events.ts and the security tests) */
export const FIXTURE_EMAILS = ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"];
export const FIXTURE_IPS = ["203.0.113.77", "198.51.100.23", "192.0.2.10", "203.0.113.99"];
/** full addresses in the documentation ranges (RFC 5737) that tests use; an anonymised /24 prefix ends in .0 */
const TEST_NET_IP = /\b(?:192\.0\.2|198\.51\.100|203\.0\.113)\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d?)\b/;
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}/;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/;

/** one finding per offending line and kind, naming the line */
export function scanLogs(lines: readonly string[], tokens: readonly string[]): string[] {
  const found: string[] = [];
  const signatures = tokens.map((t) => t.split(".")[2]).filter((s): s is string => Boolean(s));
  for (const [i, line] of lines.entries()) {
    const where = `log line ${i}: ${line.slice(0, 200)}`;
    if (/Bearer ey/i.test(line)) found.push(`"Bearer ey…" in ${where}`);
    if (JWT.test(line)) found.push(`a JWT in ${where}`);
    if (signatures.some((s) => line.includes(s))) found.push(`a minted token's signature in ${where}`);
    const lower = line.toLowerCase();
    for (const e of FIXTURE_EMAILS) if (lower.includes(e)) found.push(`${e} in ${where}`);
    const email = EMAIL.exec(line);
    if (email) found.push(`email ${email[0]} in ${where}`);
    for (const ip of FIXTURE_IPS) if (line.includes(ip)) found.push(`${ip} in ${where}`);
    const ip = TEST_NET_IP.exec(line);
    if (ip) found.push(`IP ${ip[0]} in ${where}`);
  }
  return found;
}
