import { beforeAll, describe, expect, test } from "bun:test";
import { SignJWT, UnsecuredJWT } from "jose";
import { TEST_JWT_SECRET, testApp, token } from "../../helpers/deps.ts";

let app: Awaited<ReturnType<typeof testApp>>["app"];
beforeAll(async () => {
  ({ app } = await testApp());
});

async function me(authorization?: string) {
  const res = await app.request("/v1/me", { headers: authorization ? { authorization } : {} });
  return { res, body: await res.json() };
}

function expect401(r: { res: Response; body: any }, detail: RegExp) {
  expect(r.res.status).toBe(401);
  expect(r.res.headers.get("content-type")).toBe("application/problem+json");
  expect(r.res.headers.get("www-authenticate")).toContain("Bearer");
  expect(r.body.status).toBe(401);
  expect(r.body.detail).toMatch(detail);
  expect(JSON.stringify(r.body)).not.toContain('tenant_id":"');
}

describe("GET /v1/me (bearer JWT on every /v1 route)", () => {
  test("returns the verified subject, tenant and roles for a valid token", async () => {
    const tenantId = crypto.randomUUID();
    const r = await me(`Bearer ${await token({ tenantId, roles: ["analyst", "viewer"], sub: "alice" })}`);
    expect(r.res.status).toBe(200);
    expect(r.body).toEqual({ sub: "alice", tenant_id: tenantId, roles: ["analyst", "viewer"] });
  });

  test("returns 401 without a token", async () => {
    expect401(await me(), /bearer token is required/);
  });

  test("returns 401 for a non-bearer Authorization header", async () => {
    expect401(await me("Basic dXNlcjpwYXNz"), /Bearer <token>/);
  });

  test("returns 401 for an expired token", async () => {
    const t = await new SignJWT({ tenant_id: crypto.randomUUID(), roles: ["viewer"] })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("bob")
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    expect401(await me(`Bearer ${t}`), /expired/);
  });

  test("returns 401 for a token signed with another secret", async () => {
    expect401(await me(`Bearer ${await token({ secret: "another-secret-that-is-long-enough-0123456789" })}`), /signature/);
  });

  test("returns 401 for an unsigned alg:none token", async () => {
    const t = new UnsecuredJWT({ tenant_id: crypto.randomUUID(), roles: ["admin"] }).setSubject("mallory").setExpirationTime("1h").encode();
    expect401(await me(`Bearer ${t}`), /algorithm "none"/);
  });

  test("returns 401 when tenant_id is not a uuid", async () => {
    const t = await new SignJWT({ tenant_id: "tenant-1", roles: ["viewer"] })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("carol")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    expect401(await me(`Bearer ${t}`), /tenant_id/);
  });

  test("returns 401 when exp is missing", async () => {
    const t = await new SignJWT({ tenant_id: crypto.randomUUID(), roles: ["viewer"] })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("dave")
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    expect401(await me(`Bearer ${t}`), /exp/);
  });

  test("returns 401 when a role is not one of the known roles", async () => {
    const t = await new SignJWT({ tenant_id: crypto.randomUUID(), roles: ["superuser"] })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("erin")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    expect401(await me(`Bearer ${t}`), /roles/);
  });

  test("returns 401 for garbage", async () => {
    expect401(await me("Bearer not.a.jwt"), /malformed|cannot be verified|algorithm/);
  });
});
