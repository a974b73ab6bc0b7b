import { describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { createLogger, logContext } from "../../src/logger.ts";

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    level: "info",
    format: "json",
    destination: new Writable({
      write(chunk, _e, cb) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        cb();
      },
    }),
  });
  return { logger, lines };
}

describe("logger", () => {
  test("a line's fields stay on that line: the next line outside a request does not carry them", () => {
    const { logger, lines } = capture();
    logger.info({ port: 5432, file: "0001.sql" }, "first");
    logger.warn({ err: "boom" }, "second");
    expect(lines[1]).toMatchObject({ msg: "second", err: "boom" });
    expect(lines[1]).not.toHaveProperty("port");
    expect(lines[1]).not.toHaveProperty("file");
  });

  test("inside a request every line carries the request id, and no line carries another line's fields", () => {
    const { logger, lines } = capture();
    logContext.run({ requestId: "r-1" }, () => {
      logger.info({ status: 200 }, "one");
      logger.info({ route: "/x" }, "two");
    });
    logger.info("outside");
    expect(lines[0]).toMatchObject({ requestId: "r-1", status: 200 });
    expect(lines[1]).toMatchObject({ requestId: "r-1", route: "/x" });
    expect(lines[1]).not.toHaveProperty("status");
    expect(lines[2]).not.toHaveProperty("requestId");
    expect(lines[2]).not.toHaveProperty("route");
  });

  test("a line's own field wins over the request context's", () => {
    const { logger, lines } = capture();
    logContext.run({ requestId: "r-2" }, () => logger.info({ requestId: "explicit" }, "x"));
    expect(lines[0]!.requestId).toBe("explicit");
  });
});
