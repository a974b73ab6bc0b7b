/**
 * Token verification against a real JWKS endpoint (Bun.serve on a free port): RS256 and ES256,
 * key rotation (unknown kid ⇒ refetch), caching, iss/aud, clock skew, and the classic forgeries.
 * HS256 basics (expired, wrong secret, alg none, bad claims) are in tests/integration/platform/auth.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT, UnsecuredJWT } from "jose";
import { createApp } from "../../src/app.ts";
import { createJwtVerifier, type JwtVerifier } from "../../src/http/auth.ts";
import { getTestDeps, TEST_JWT_SECRET } from "../helpers/deps.ts";

type Key = Awaited<ReturnType<typeof generateKeyPair>>;

let server: ReturnType<typeof Bun.serve>;
let published: JWK[] = [];
let fetches = 0;
let jwksUrl: string;
let rsa: Key;
let ec: Key;
let rotated: Key;

async function jwk(key: Key, kid: string, alg: string): Promise<JWK> {
  return { ...(await exportJWK(key.publicKey)), kid, alg, use: "sig" };
}

beforeAll(async () => {
  rsa = await generateKeyPair("RS256", { extractable: true });
  ec = await generateKeyPair("ES256", { extractable: true });
  rotated = await generateKeyPair("RS256", { extractable: true });
  published = [await jwk(rsa, "rsa-1", "RS256"), await jwk(ec, "ec-1", "ES256")];
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () => {
      fetches += 1;
      return Response.json({ keys: published });
    },
  });
  jwksUrl = `http://127.0.0.1:${server.port}/.well-known/jwks.json`;
});

afterAll(() => {
  server?.stop(true);
});

const nowS = () => Math.floor(Date.now() / 1000);

function claims(tenantId: string = crypto.randomUUID()) {
  return new SignJWT({ tenant_id: tenantId, roles: ["viewer"] }).setSubject("jwks-user").setIssuedAt();
}

async function rs256(
  opts: { kid?: string; key?: Key; exp?: number; nbf?: number; iss?: string; aud?: string; payload?: Record<string, unknown> } = {},
) {
  let j = new SignJWT({ tenant_id: crypto.randomUUID(), roles: ["viewer"], ...opts.payload })
    .setProtectedHeader({ alg: "RS256", kid: opts.kid ?? "rsa-1" })
    .setSubject("jwks-user")
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? nowS() + 300);
  if (opts.nbf !== undefined) j = j.setNotBefore(opts.nbf);
  if (opts.iss) j = j.setIssuer(opts.iss);
  if (opts.aud) j = j.setAudience(opts.aud);
  return j.sign((opts.key ?? rsa).privateKey);
}

function verifier(extra: Partial<Parameters<typeof createJwtVerifier>[0]> = {}): JwtVerifier {
  return createJwtVerifier({ jwksUrl, clockToleranceS: 30, jwksCooldownMs: 0, ...extra });
}

async function rejects(v: JwtVerifier, token: string, detail: RegExp) {
  await expect(v.verify(token)).rejects.toThrow(detail);
}

describe("RS256 / ES256 tokens against a JWKS URL", () => {
  test("an RS256 token signed by a published key is accepted with its claims", async () => {
    const tenantId = crypto.randomUUID();
    const t = await claims(tenantId).setProtectedHeader({ alg: "RS256", kid: "rsa-1" }).setExpirationTime("5m").sign(rsa.privateKey);
    expect(await verifier().verify(t)).toEqual({ sub: "jwks-user", tenantId, roles: ["viewer"] });
  });

  test("an ES256 token signed by a published key is accepted", async () => {
    const t = await claims().setProtectedHeader({ alg: "ES256", kid: "ec-1" }).setExpirationTime("5m").sign(ec.privateKey);
    expect((await verifier().verify(t)).sub).toBe("jwks-user");
  });

  test("the key set is fetched once and cached for later tokens", async () => {
    const v = verifier({ jwksCooldownMs: 30_000 });
    const before = fetches;
    for (let i = 0; i < 5; i++) await v.verify(await rs256());
    expect(fetches - before).toBe(1);
  });

  test("a token with an unknown kid makes the verifier refetch the set, so a rotated key works without a restart", async () => {
    const v = verifier();
    await v.verify(await rs256()); // caches the set without the new key
    const before = fetches;
    const t = await rs256({ kid: "rsa-2", key: rotated });
    await rejects(v, t, /cannot be verified|malformed/); // not published yet: refetched, still unknown
    expect(fetches - before).toBe(1);
    published = [...published, await jwk(rotated, "rsa-2", "RS256")];
    try {
      expect((await v.verify(t)).sub).toBe("jwks-user");
      expect(fetches - before).toBe(2);
    } finally {
      published = published.filter((k) => k.kid !== "rsa-2");
    }
  });

  test("a token signed by a key that is not published (same kid) is refused as a bad signature", async () => {
    await rejects(verifier(), await rs256({ kid: "rsa-1", key: rotated }), /signature/);
  });

  test("a tampered payload is refused", async () => {
    const [h, , sig] = (await rs256()).split(".");
    const forged = Buffer.from(JSON.stringify({ sub: "x", tenant_id: crypto.randomUUID(), roles: ["admin"], exp: nowS() + 300 })).toString(
      "base64url",
    );
    await rejects(verifier(), `${h}.${forged}.${sig}`, /signature/);
  });
});

describe("algorithm confusion and unsigned tokens", () => {
  test("an HS256 token whose secret is the RSA public key (PEM) is refused when only a JWKS is configured", async () => {
    const pem = await exportSPKI(rsa.publicKey);
    const t = await claims().setProtectedHeader({ alg: "HS256", kid: "rsa-1" }).setExpirationTime("5m").sign(new TextEncoder().encode(pem));
    await rejects(verifier(), t, /algorithm "HS256" is not accepted/);
  });

  test("the same forgery is refused as a bad signature when an HS256 secret is configured too", async () => {
    const pem = await exportSPKI(rsa.publicKey);
    const t = await claims().setProtectedHeader({ alg: "HS256", kid: "rsa-1" }).setExpirationTime("5m").sign(new TextEncoder().encode(pem));
    await rejects(verifier({ secret: TEST_JWT_SECRET }), t, /signature/);
  });

  test("an HS256 token keyed with the JWK's modulus text is refused", async () => {
    const pub = await exportJWK(rsa.publicKey);
    const t = await claims()
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(JSON.stringify(pub)));
    await rejects(verifier({ secret: TEST_JWT_SECRET }), t, /signature/);
  });

  test("alg none is refused even when a JWKS is configured", async () => {
    const t = new UnsecuredJWT({ tenant_id: crypto.randomUUID(), roles: ["admin"] }).setSubject("mallory").setExpirationTime("1h").encode();
    await rejects(verifier(), t, /algorithm "none"/);
  });

  test("an RS256 token is refused when no JWKS is configured (HS256 only)", async () => {
    await rejects(createJwtVerifier({ secret: TEST_JWT_SECRET, clockToleranceS: 30 }), await rs256(), /algorithm "RS256" is not accepted/);
  });

  test("RS384, PS256 and EdDSA are not accepted", async () => {
    for (const alg of ["RS384", "PS256"]) {
      const k = await generateKeyPair(alg);
      const t = await claims().setProtectedHeader({ alg, kid: "rsa-1" }).setExpirationTime("5m").sign(k.privateKey);
      await rejects(verifier(), t, new RegExp(`algorithm "${alg}" is not accepted`));
    }
    const ed = await generateKeyPair("EdDSA");
    const t = await claims().setProtectedHeader({ alg: "EdDSA" }).setExpirationTime("5m").sign(ed.privateKey);
    await rejects(verifier(), t, /algorithm "EdDSA" is not accepted/);
  });
});

describe("time claims and clock skew (tolerance 30 s)", () => {
  test("a token that expired 10 s ago is still accepted (within the tolerance)", async () => {
    expect((await verifier().verify(await rs256({ exp: nowS() - 10 }))).sub).toBe("jwks-user");
  });

  test("a token that expired 60 s ago is refused as expired", async () => {
    await rejects(verifier(), await rs256({ exp: nowS() - 60 }), /expired/);
  });

  test("a token not valid before 60 s from now is refused (nbf)", async () => {
    await rejects(verifier(), await rs256({ nbf: nowS() + 60 }), /nbf/);
  });

  test("a token not valid before 10 s from now is accepted (within the tolerance)", async () => {
    expect((await verifier().verify(await rs256({ nbf: nowS() + 10 }))).sub).toBe("jwks-user");
  });

  test("with a tolerance of 0 a token expired 2 s ago is refused", async () => {
    await rejects(verifier({ clockToleranceS: 0 }), await rs256({ exp: nowS() - 2 }), /expired/);
  });
});

describe("issuer and audience (checked only when configured)", () => {
  const iss = "https://id.example.com/";
  const aud = "pulse-api";

  test("a token with the configured issuer and audience is accepted", async () => {
    expect((await verifier({ issuer: iss, audience: aud }).verify(await rs256({ iss, aud }))).sub).toBe("jwks-user");
  });

  test("a wrong issuer is refused", async () => {
    await rejects(verifier({ issuer: iss }), await rs256({ iss: "https://evil.example.com/", aud }), /iss/);
  });

  test("a missing issuer is refused when one is configured", async () => {
    await rejects(verifier({ issuer: iss }), await rs256({ aud }), /iss/);
  });

  test("a wrong audience is refused", async () => {
    await rejects(verifier({ audience: aud }), await rs256({ iss, aud: "another-api" }), /aud/);
  });

  test("without configured issuer and audience any issuer and audience pass", async () => {
    expect((await verifier().verify(await rs256({ iss: "https://anyone.example/", aud: "anything" }))).sub).toBe("jwks-user");
  });
});

describe("tenant claim", () => {
  test("a token without tenant_id is refused", async () => {
    const t = await new SignJWT({ roles: ["viewer"] })
      .setProtectedHeader({ alg: "RS256", kid: "rsa-1" })
      .setSubject("s")
      .setExpirationTime("5m")
      .sign(rsa.privateKey);
    await rejects(verifier(), t, /tenant_id/);
  });

  test("a token whose tenant_id is not a uuid is refused (also an SQL-looking one)", async () => {
    for (const bad of ["tenant-1", "' OR 1=1 --", "00000000-0000-0000-0000-00000000000g", ""]) {
      await rejects(verifier(), await rs256({ payload: { tenant_id: bad } }), /tenant_id/);
    }
  });

  test("a token whose tenant_id is a number or an array is refused", async () => {
    await rejects(verifier(), await rs256({ payload: { tenant_id: 42 } }), /tenant_id/);
    await rejects(verifier(), await rs256({ payload: { tenant_id: [crypto.randomUUID()] } }), /tenant_id/);
  });
});

describe("through the app", () => {
  test("GET /v1/me answers 200 for a JWKS token, 401 problem+json for an expired one and for a nbf in the future", async () => {
    const deps = await getTestDeps();
    const app = createApp({ ...deps, jwt: verifier() });
    const ok = await app.request("/v1/me", { headers: { authorization: `Bearer ${await rs256()}` } });
    expect(ok.status).toBe(200);
    for (const t of [await rs256({ exp: nowS() - 120 }), await rs256({ nbf: nowS() + 120 })]) {
      const res = await app.request("/v1/me", { headers: { authorization: `Bearer ${t}` } });
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.headers.get("www-authenticate")).toContain("Bearer");
    }
  });

  test("an unreachable JWKS answers 401, not 500", async () => {
    const deps = await getTestDeps();
    const app = createApp({
      ...deps,
      jwt: createJwtVerifier({ jwksUrl: "http://127.0.0.1:9/jwks.json", clockToleranceS: 30, jwksTimeoutMs: 500 }),
    });
    const res = await app.request("/v1/me", { headers: { authorization: `Bearer ${await rs256()}` } });
    expect(res.status).toBe(401);
  });
});

describe("verified-token cache", () => {
  test("a token verified once is refused again once it expires (exp is checked on every use, not only at the first)", async () => {
    const verifier = createJwtVerifier({ secret: TEST_JWT_SECRET, clockToleranceS: 0 });
    const exp = Math.floor(Date.now() / 1000) + 1;
    const jwt = await new SignJWT({ tenant_id: crypto.randomUUID(), roles: ["viewer"] })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("cache-user")
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    expect((await verifier.verify(jwt)).sub).toBe("cache-user");
    expect((await verifier.verify(jwt)).sub).toBe("cache-user");
    await Bun.sleep(exp * 1000 - Date.now() + 50);
    await expect(verifier.verify(jwt)).rejects.toThrow("token has expired");
  });

  test("a cached principal cannot be changed by a handler", async () => {
    const verifier = createJwtVerifier({ secret: TEST_JWT_SECRET, clockToleranceS: 0 });
    const jwt = await new SignJWT({ tenant_id: crypto.randomUUID(), roles: ["viewer"] })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("frozen")
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const p = await verifier.verify(jwt);
    expect(() => {
      (p as { tenantId: string }).tenantId = crypto.randomUUID();
    }).toThrow();
    expect((await verifier.verify(jwt)).tenantId).toBe(p.tenantId);
  });
});
