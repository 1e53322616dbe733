// The shape of src/ (docs/architecture.md, "Layers"), checked by `npm run lint:deps` in CI (.ci/run).
//
// Platform modules are the lower layer: they know no domain. Domains use them, and each other through ports. The
// composition side (app.ts, server.ts, cli.ts, store.ts) is the only place that names every module.
const PLATFORM = "^src/(db|shared|web|notify|outbox|limits|context|api)/";
const DOMAINS = "^src/(identity|sessions|risk|commerce|response|portal|console|admin|webhooks|events|simulate)/";
const COMPOSITION = "^src/(app|server|cli|store)\\.tsx?$";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "platform-imports-domain",
      comment: "A lower layer (db, shared, web, notify, outbox, limits, context, the HTTP kit) imports no domain; take a port or a hook, filled in app.ts.",
      severity: "error",
      from: { path: PLATFORM, pathNot: "\\.test\\.tsx?$" },
      to: { path: DOMAINS },
    },
    {
      name: "platform-imports-composition",
      comment: "A lower layer does not reach up to the composition root.",
      severity: "error",
      from: { path: PLATFORM, pathNot: "\\.test\\.tsx?$" },
      to: { path: COMPOSITION },
    },
    {
      name: "no-circular",
      comment: "Import cycles make the order modules load in matter and hide who depends on whom.",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "identity-store-is-identitys",
      comment: "Accounts, contacts and passwords are identity's: other modules read and change them through identity's account-control port (src/identity/account-control.ts), handed to them in app.ts.",
      severity: "error",
      from: { path: "^src/", pathNot: ["^src/identity/", "\\.test\\.tsx?$", "^src/testing/", COMPOSITION] },
      to: { path: "^src/identity/store\\.ts$" },
    },
    {
      name: "no-test-support-in-production",
      comment: "src/testing/ is for tests only.",
      severity: "error",
      from: { path: "^src/", pathNot: ["\\.test\\.tsx?$", "^src/testing/", "^src/simulate/"] },
      to: { path: "^src/testing/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    includeOnly: "^src/",
    // type-only imports count: a layer that names a domain's types depends on it all the same
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".tsx", ".js", ".mjs"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
