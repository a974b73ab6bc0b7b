import { describe, expect, test } from "bun:test";
import { emailHash, uaHash, visitorId } from "../../src/ingest/privacy/hash.ts";
import { ipPrefix } from "../../src/ingest/privacy/ip.ts";
import { redactPayload, redactText } from "../../src/ingest/privacy/redact.ts";
import { uaFamily } from "../../src/ingest/privacy/user-agent.ts";

const KEY = Buffer.from("pulse-test-key-0123456789abcdef!");

describe("ipPrefix", () => {
  test("keeps the /24 of an IPv4 address", () => {
    expect(ipPrefix("203.0.113.7")).toBe("203.0.113.0/24");
    expect(ipPrefix("10.0.0.255")).toBe("10.0.0.0/24");
    expect(ipPrefix("0.0.0.0")).toBe("0.0.0.0/24");
    expect(ipPrefix("255.255.255.255")).toBe("255.255.255.0/24");
    expect(ipPrefix(" 198.51.100.23 ")).toBe("198.51.100.0/24");
  });

  test("keeps the /48 of an IPv6 address, compressed and lower-cased", () => {
    expect(ipPrefix("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1::/48");
    expect(ipPrefix("2001:0DB8:0001:0002:0003:0004:0005:0006")).toBe("2001:db8:1::/48");
    expect(ipPrefix("2001:0db8:0000:0000:0000:ff00:0042:8329")).toBe("2001:db8::/48");
    expect(ipPrefix("2001:db8::")).toBe("2001:db8::/48");
    expect(ipPrefix("2001:db8:abcd:12::1")).toBe("2001:db8:abcd::/48");
    expect(ipPrefix("2001:0:0:1::1")).toBe("2001::/48");
    expect(ipPrefix("0:db8:1::")).toBe("0:db8:1::/48");
    expect(ipPrefix("::1")).toBe("::/48");
    expect(ipPrefix("::")).toBe("::/48");
    expect(ipPrefix("fe80::1ff:fe23:4567:890a%eth0")).toBe("fe80::/48");
    expect(ipPrefix("64:ff9b::203.0.113.7")).toBe("64:ff9b::/48");
    expect(ipPrefix("1:2:3:4:5:6:1.2.3.4")).toBe("1:2:3::/48");
  });

  test("treats an IPv4-mapped IPv6 address as the IPv4 it maps", () => {
    expect(ipPrefix("::ffff:1.2.3.4")).toBe("1.2.3.0/24");
    expect(ipPrefix("::FFFF:203.0.113.7")).toBe("203.0.113.0/24");
    // 203.0.113.7 = cb.00.71.07
    expect(ipPrefix("::ffff:cb00:7107")).toBe("203.0.113.0/24");
    expect(ipPrefix("0:0:0:0:0:ffff:cb00:7107")).toBe("203.0.113.0/24");
  });

  test("answers null for anything that is not one IP address", () => {
    for (const bad of [
      "",
      "localhost",
      "256.1.1.1",
      "1.2.3",
      "01.2.3.4",
      "1.2.3.4:80",
      "[::1]",
      "1::2::3",
      "2001:db8::1/64",
      "12345::",
      "1:2:3:4:5:6:7:8:9",
    ]) {
      expect(ipPrefix(bad)).toBeNull();
    }
  });
});

describe("uaFamily", () => {
  test("names browser, os and device class without versions", () => {
    expect(
      uaFamily("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"),
    ).toBe("chrome/windows/desktop");
    expect(
      uaFamily(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
      ),
    ).toBe("safari/ios/mobile");
    expect(uaFamily("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0")).toBe("firefox/linux/desktop");
    expect(uaFamily("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0")).toBe("firefox/linux/desktop");
    expect(
      uaFamily("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"),
    ).toBe("safari/macos/desktop");
    expect(
      uaFamily("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"),
    ).toBe("chrome/android/mobile");
    expect(
      uaFamily(
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
      ),
    ).toBe("safari/ios/tablet");
    expect(
      uaFamily(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
      ),
    ).toBe("edge/windows/desktop");
  });

  test("classes crawlers and HTTP tools as bots, and unknown agents as other/other/desktop", () => {
    expect(uaFamily("curl/8.5.0")).toBe("other/other/bot");
    expect(uaFamily("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")).toBe("other/other/bot");
    expect(
      uaFamily(
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
      ),
    ).toBe("chrome/android/bot");
    expect(uaFamily("SomethingNobodyKnows/1.0")).toBe("other/other/desktop");
  });
});

describe("keyed hashes", () => {
  test("emailHash is the version-prefixed HMAC-SHA-256 of the trimmed lower-cased email", () => {
    // printf '%s' 'alice@example.com' | openssl dgst -sha256 -hmac 'pulse-test-key-0123456789abcdef!'
    const expected = "v1:23a5e4400299e54de57e6efdf4b258af1f41352580336f089bc46a20da671761";
    expect(emailHash(KEY, 1, "alice@example.com")).toBe(expected);
    expect(emailHash(KEY, 1, "  Alice@Example.COM ")).toBe(expected);
    expect(emailHash(KEY, 1, "alice@example.com")).toBe(emailHash(KEY, 1, "alice@example.com"));
    expect(emailHash(KEY, 2, "alice@example.com")).toBe(expected.replace(/^v1:/, "v2:"));
  });

  test("emailHash differs between two tenants' keys", () => {
    const other = Buffer.from("another-tenant-key-0123456789abc");
    expect(emailHash(other, 1, "alice@example.com")).not.toBe(emailHash(KEY, 1, "alice@example.com"));
  });

  test("uaHash is the first 32 hex chars of the HMAC of the user agent", () => {
    // printf '%s' '<ua>' | openssl dgst -sha256 -hmac 'pulse-test-key-0123456789abcdef!'
    expect(uaHash(KEY, "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0")).toBe("aa89725760a9c97c5111cdb06b05112a");
  });

  test("visitorId is the first 32 hex chars of HMAC(salt, tenant|ip|ua)", () => {
    // printf '%s' '00000000-0000-4000-8000-000000000001|203.0.113.7|curl/8.5.0' | openssl dgst -sha256 -hmac 'daily-salt-of-test'
    const salt = Buffer.from("daily-salt-of-test");
    expect(visitorId(salt, "00000000-0000-4000-8000-000000000001", "203.0.113.7", "curl/8.5.0")).toBe("c83b7090566665e3465302680545451c");
    // two visitors behind one /24 differ
    expect(visitorId(salt, "00000000-0000-4000-8000-000000000001", "203.0.113.8", "curl/8.5.0")).not.toBe(
      "c83b7090566665e3465302680545451c",
    );
  });
});

describe("redactPayload", () => {
  const ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

  test("replaces every PII key at any depth of data and leaves the input untouched", () => {
    const input = {
      specversion: "1.0",
      id: "evt-1",
      type: "order.completed",
      data: {
        order_id: "o-1",
        email: "alice@example.com",
        ip: "203.0.113.7",
        user_agent: ua,
        customer_name: "Alice Example",
        lines: [
          {
            item_id: "i-1",
            quantity: 1,
            name: "Alice Example",
            full_name: "Alice Example",
            meta: { email: "bob@example.com", ua: ua, ip: "2001:db8:1:2::9" },
          },
        ],
        note: "call alice@example.com from 198.51.100.23",
      },
    };
    const before = JSON.stringify(input);
    const out = redactPayload(input) as { data: Record<string, unknown> };
    expect(JSON.stringify(input)).toBe(before);
    const text = JSON.stringify(out);
    for (const raw of [
      "alice@example.com",
      "bob@example.com",
      "203.0.113.7",
      "198.51.100.23",
      "2001:db8:1:2::9",
      "Alice Example",
      "Chrome/124",
    ]) {
      expect(text).not.toContain(raw);
    }
    expect(out.data).toEqual({
      order_id: "o-1",
      email: "[redacted-email]",
      ip: "203.0.113.0/24",
      user_agent: "chrome/windows/desktop",
      lines: [{ item_id: "i-1", quantity: 1, meta: { email: "[redacted-email]", ua: "chrome/windows/desktop", ip: "2001:db8:1::/48" } }],
      note: "call [redacted-email] from [redacted-ip]",
    });
    expect((out as Record<string, unknown>).id).toBe("evt-1");
  });

  test("keeps the item name of item.upserted but drops names elsewhere", () => {
    const item = redactPayload({ type: "item.upserted", data: { item_id: "i-1", name: "Summer Gala", category: "concert" } });
    expect(item).toEqual({ type: "item.upserted", data: { item_id: "i-1", name: "Summer Gala", category: "concert" } });
    const reg = redactPayload({
      type: "customer.registered",
      data: { customer_id: "c-1", name: "Alice Example", full_name: "Alice Example" },
    });
    expect(reg).toEqual({ type: "customer.registered", data: { customer_id: "c-1" } });
  });

  test("redacts PII put beside data in an invalid envelope, and copies non-objects", () => {
    expect(redactPayload({ type: "page.viewed", email: "alice@example.com", ip: "203.0.113.7" })).toEqual({
      type: "page.viewed",
      email: "[redacted-email]",
      ip: "203.0.113.0/24",
    });
    expect(redactPayload([1, "x"])).toEqual([1, "x"]);
    expect(redactPayload(null)).toBeNull();
    expect(redactPayload({ data: { ip: "not an ip" } })).toEqual({ data: { ip: "[redacted-ip]" } });
  });
});

describe("redactText", () => {
  test("masks e-mail addresses and IPv4/IPv6 literals", () => {
    const out = redactText('{"email":"alice@example.com","ip":"203.0.113.7","ip6":"2001:db8::1","time":"2026-01-01T10:20:30Z"');
    expect(out).not.toContain("alice@example.com");
    expect(out).not.toContain("203.0.113.7");
    expect(out).not.toContain("2001:db8::1");
    expect(out).toContain("2026-01-01T10:20:30Z");
    expect(out).toBe('{"email":"[redacted-email]","ip":"[redacted-ip]","ip6":"[redacted-ip]","time":"2026-01-01T10:20:30Z"');
  });

  test("masks a truncated e-mail, a mapped IPv6 address and name / user-agent values", () => {
    expect(redactText('{"to":"alice@exa')).toBe('{"to":"[redacted-email]');
    expect(redactText("from ::ffff:203.0.113.7 ok")).toBe("from [redacted-ip] ok");
    expect(redactText('{"customer_name":"Alice Example","user_agent":"curl/8.5.0","n":1')).toBe(
      '{"customer_name":"[redacted]","user_agent":"[redacted]","n":1',
    );
    expect(redactText("version 1.2.3 at 10:20:30")).toBe("version 1.2.3 at 10:20:30");
  });
});
