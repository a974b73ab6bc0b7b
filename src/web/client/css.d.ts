/** CSS imported for its side effect is bundled by Bun (src/web/build.ts). */
declare module "*.css";
