// `npm run lint` (part of `npm test`): the dependency rules of docs/architecture.md ("Package
// boundaries"), checked on the TypeScript sources (type-only imports included) in a few seconds.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'Modules that import each other in a circle cannot be understood, tested or changed one at a time.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'protocol-imports-nothing-of-ours',
      severity: 'error',
      comment: 'packages/protocol is the root of the graph and bundled for browsers: no other workspace, no npm package.',
      from: { path: '^packages/protocol/src/' },
      to: { pathNot: ['^packages/protocol/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'hub-imports-no-bus-implementation',
      severity: 'error',
      comment: 'The hub talks to the Bus interface it is given (type-only imports) and never to Redis or a socket.',
      from: { path: '^packages/hub/src/' },
      to: { path: ['^packages/bus/'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'hub-imports-no-transport',
      severity: 'error',
      comment: 'The hub hands bytes to an injected sink; ws, ioredis and node:net belong to the gateway and the bus.',
      from: { path: '^packages/hub/src/' },
      to: { path: ['node_modules/(ioredis|ws)/', '^(net|http|https|tls)$'] },
    },
    {
      name: 'workspaces-meet-at-entry-points',
      severity: 'error',
      comment: "Another workspace is imported by its package name and only through its package.json exports, never by a path into its files.",
      from: { path: '^(packages/[^/]+|services/[^/]+|bench|tests)/' },
      to: {
        path: '^(packages|services|bench|tests)/',
        pathNot: ['^$1/', '^(packages|services)/[^/]+/dist/src/index\\.js$', '^packages/bus/dist/src/testing/index\\.js$', '^packages/testing/dist/src/index\\.js$'],
      },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    doNotFollow: { path: ['node_modules', '/dist/'] },
    exclude: { path: ['/dist/', 'node_modules'] },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
