/**
 * `bun run token -- --tenant <uuid> --roles analyst[,viewer] [--sub dev] [--expires 1h]`
 * prints a development HS256 token signed with JWT_SECRET (or the generated development secret).
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { loadConfig } from "../config.ts";
import { ROLES, resolveJwtSecret, signToken } from "../http/auth.ts";

const { values } = parseArgs({
  options: {
    tenant: { type: "string" },
    roles: { type: "string", default: "viewer" },
    sub: { type: "string", default: "dev" },
    expires: { type: "string", default: "1h" },
  },
});
const args = z
  .object({
    tenant: z.uuid({ message: "--tenant must be a uuid" }),
    roles: z
      .string()
      .transform((s) =>
        s
          .split(",")
          .map((r) => r.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.enum(ROLES)).min(1)),
    sub: z.string().min(1),
    expires: z.string().regex(/^\d+[smhdw]$/, "--expires looks like 30m, 1h, 7d"),
  })
  .safeParse(values);
if (!args.success) {
  process.stderr.write(
    `token: ${args.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}\nroles: ${ROLES.join(", ")}\n`,
  );
  process.exit(2);
}
const config = loadConfig();
const secret = resolveJwtSecret(config);
if (!secret) {
  process.stderr.write("token: no HS256 secret (JWT_SECRET) is configured\n");
  process.exit(2);
}
process.stdout.write(
  `${await signToken(secret, { sub: args.data.sub, tenantId: args.data.tenant, roles: args.data.roles, expiresIn: args.data.expires })}\n`,
);
