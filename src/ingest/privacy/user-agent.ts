/** A user agent's coarse, low-cardinality family "browser/os/device" (the agent itself is stored only as a keyed hash). */
import { LRUCache } from "lru-cache";
import { UAParser } from "ua-parser-js";

/** crawlers, headless browsers and HTTP libraries: device "bot" */
const BOT = new RegExp(
  [
    "bot\\b|bot\\/|crawl|spider|slurp|headless|curl\\/|wget\\/|python-requests|python-urllib|aiohttp|httpclient|okhttp",
    "go-http-client|java\\/|axios\\/|node-fetch|undici|postman|facebookexternalhit|bingpreview|lighthouse",
  ].join("|"),
  "i",
);

function browserFamily(name: string | undefined): string {
  if (!name) return "other";
  const n = name.toLowerCase();
  if (n.includes("edge")) return "edge";
  if (n.includes("opera")) return "opera";
  if (n.includes("samsung")) return "samsung";
  if (n.includes("yandex")) return "yandex";
  if (n.startsWith("uc")) return "uc";
  if (n.includes("brave")) return "brave";
  if (n.includes("vivaldi")) return "vivaldi";
  if (n.includes("firefox")) return "firefox";
  if (n.includes("chrom")) return "chrome";
  if (n.includes("safari")) return "safari";
  if (n === "ie" || n === "iemobile") return "ie";
  return "other";
}

const LINUXES = new Set([
  "linux",
  "ubuntu",
  "debian",
  "fedora",
  "mint",
  "arch",
  "gentoo",
  "centos",
  "red hat",
  "redhat",
  "suse",
  "opensuse",
  "kubuntu",
  "xubuntu",
  "mandriva",
  "slackware",
  "manjaro",
  "deepin",
  "elementary os",
  "pclinuxos",
  "mageia",
  "zenwalk",
  "linpus",
  "knoppix",
  "vectorlinux",
]);

function osFamily(name: string | undefined): string {
  if (!name) return "other";
  const n = name.toLowerCase();
  if (n.startsWith("windows")) return "windows";
  if (n === "mac os" || n === "macos" || n === "mac os x") return "macos";
  if (n === "ios" || n === "ipados") return "ios";
  if (n === "android") return "android";
  if (n === "chromium os" || n === "chrome os" || n === "chromeos") return "chromeos";
  if (LINUXES.has(n)) return "linux";
  return "other";
}

function deviceClass(type: string | undefined, bot: boolean): string {
  if (bot) return "bot";
  switch (type) {
    case "mobile":
    case "wearable":
      return "mobile";
    case "tablet":
      return "tablet";
    case "smarttv":
      return "tv";
    case "console":
      return "console";
    case "embedded":
      return "other";
    default:
      return "desktop";
  }
}

/** parsing costs ~20 µs; real traffic has few distinct user agents */
const uaFamilies = new LRUCache<string, string>({ max: 5_000 });

/**
 * Coarse, low-cardinality family "browser/os/device" of a user agent, no versions:
 * "chrome/windows/desktop", "safari/ios/mobile", "firefox/linux/desktop"; crawlers and HTTP
 * libraries get device "bot" ("other/other/bot"); unknown parts are "other".
 */
export function uaFamily(ua: string): string {
  const key = typeof ua === "string" ? ua.slice(0, 512) : "";
  const hit = uaFamilies.get(key);
  if (hit !== undefined) return hit;
  const r = new UAParser(key).getResult();
  const device = deviceClass(r.device.type, BOT.test(key));
  const family = `${browserFamily(r.browser.name)}/${osFamily(r.os.name)}/${device}`;
  uaFamilies.set(key, family);
  return family;
}
