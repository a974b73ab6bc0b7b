import { beforeAll, describe, expect, test } from "bun:test";
import { EVENT_TYPES } from "../../../src/ingest/types.ts";
import { testApp, token } from "../../helpers/deps.ts";

let app: Awaited<ReturnType<typeof testApp>>["app"];
let auth: { authorization: string };
beforeAll(async () => {
  ({ app } = await testApp());
  auth = { authorization: `Bearer ${await token({ roles: ["viewer"] })}` };
});

const V1_TYPES = ["order.completed", "order.refunded", "page.viewed", "customer.registered"];

describe("GET /v1/schemas", () => {
  test("lists version 2 of every event type and version 1 of the four legacy types as accepted, with urls", async () => {
    const res = await app.request("/v1/schemas", { headers: auth });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: Array<{ type: string; version: string; url: string; direction: string }> };
    const accepted = body.data.filter((e) => e.direction === "accepted");
    const pairs = accepted.map((e) => `${e.type}@${e.version}`).sort();
    const expected = [...EVENT_TYPES.map((t) => `${t}@2`), ...V1_TYPES.map((t) => `${t}@1`)].sort();
    expect(pairs).toEqual(expected);
    expect(accepted.length).toBe(17);
    for (const e of body.data) expect(e.url).toBe(`/v1/schemas/${e.type}/${e.version}`);
  });

  test("lists price.change_approved version 1 as an event Pulse emits, with its subject, and serves its schema", async () => {
    const body = (await (await app.request("/v1/schemas", { headers: auth })).json()) as {
      data: Array<{ type: string; version: string; direction: string; subject: string }>;
    };
    const emitted = body.data.filter((e) => e.direction === "emitted");
    expect(emitted.map((e) => [e.type, e.version, e.subject])).toEqual([
      ["price.change_approved", "1", "<PRICING_SUBJECT_PREFIX>.<tenantid>.price.change_approved"],
    ]);
    const doc = await (await app.request("/v1/schemas/price.change_approved/1", { headers: auth })).json();
    expect(doc.properties.type.const).toBe("price.change_approved");
    expect(doc.required).toEqual(expect.arrayContaining(["tenantid", "schemaversion", "data"]));
    const fields = ["change_id", "item_id", "currency", "previous_price_minor", "new_price_minor", "approved_at", "reason"];
    expect(doc.properties.data.required).toEqual(fields);
  });

  test("answers 401 problem+json without a token", async () => {
    const res = await app.request("/v1/schemas");
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });
});

describe("GET /v1/schemas/{type}/{version}", () => {
  test("order.completed version 2 is a JSON Schema of the whole event requiring lines and total_minor", async () => {
    const res = await app.request("/v1/schemas/order.completed/2", { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("application/schema+json");
    const doc = await res.json();
    expect(doc.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(doc.type).toBe("object");
    expect(doc.required).toEqual(expect.arrayContaining(["specversion", "id", "source", "type", "time", "tenantid", "data"]));
    expect(doc.properties.type.const).toBe("order.completed");
    const data = doc.properties.data;
    expect(data.required).toEqual(expect.arrayContaining(["order_id", "customer_id", "channel", "currency", "lines", "total_minor"]));
    expect(data.required).not.toContain("discount_minor");
    expect(data.properties.lines.minItems).toBe(1);
    expect(data.properties.lines.items.required).toEqual(["item_id", "quantity", "unit_price_minor"]);
    expect(data.properties.total_minor.type).toBe("integer");
    expect(data.properties.discount_minor.default).toBe(0);
  });

  test('order.completed version 1 has venue_id, total and items, and schemaversion "1" is required', async () => {
    const res = await app.request("/v1/schemas/order.completed/1", { headers: auth });
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc.required).toContain("schemaversion");
    expect(doc.required).not.toContain("tenantid");
    expect(doc.properties.schemaversion.const).toBe("1");
    expect(doc.properties.data.required).toEqual(expect.arrayContaining(["venue_id", "total", "items"]));
  });

  test("every listed schema can be fetched", async () => {
    const list = (await (await app.request("/v1/schemas", { headers: auth })).json()) as { data: Array<{ url: string }> };
    for (const { url } of list.data) {
      const res = await app.request(url, { headers: auth });
      expect(res.status, url).toBe(200);
    }
  });

  test("an unknown type answers 404 problem+json", async () => {
    const res = await app.request("/v1/schemas/order.created/2", { headers: auth });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const body = await res.json();
    expect(body).toMatchObject({ status: 404, title: "Not found", instance: "/v1/schemas/order.created/2" });
    expect(body.detail).toContain("order.created");
  });

  test("version 1 of a type that has no version 1 answers 404", async () => {
    const res = await app.request("/v1/schemas/cart.item_added/1", { headers: auth });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });

  test('version "3" answers 400 problem+json naming version', async () => {
    const res = await app.request("/v1/schemas/order.completed/3", { headers: auth });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const body = await res.json();
    expect(body.errors.map((e: { path: string }) => e.path)).toContain("version");
  });
});
