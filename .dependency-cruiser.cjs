/**
 * The layers of qhub, checked by `npm test` (tests/layers.test.ts) with
 * dependency-cruiser. From the bottom:
 *   config/schema.ts   the config file's schema; imports nothing of qhub
 *   contract/          what modules share: queue vocabulary, bus events, device messages, ports, roles
 *   drivers/           bytes and frames only
 *   devices/           one definition per device model (may use drivers, contract, config)
 *   daemon/engine/     the pure queue engine: no I/O, no other daemon folder
 *   daemon/store/, daemon/spine/   the event log; what every module is built on
 *   daemon/<module>/   one capability each; never imports another module's folder
 *   daemon/*.ts        the process: wires the modules (hub.ts), signals, the command line
 * Type-only imports count too.
 */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'import cycles make the layers meaningless', from: {}, to: { circular: true } },
    {
      name: 'schema-at-the-bottom',
      severity: 'error',
      comment: 'the config schema imports nothing of qhub: every other part reads its types',
      from: { path: '^config/schema\\.ts$' },
      to: { path: '^(contract|daemon|devices|drivers|config)/', pathNot: '^config/schema\\.ts$' },
    },
    {
      name: 'contract-is-shared',
      severity: 'error',
      comment: 'contract/ is below every module: it may use only the config schema',
      from: { path: '^contract/' },
      to: { path: '^(daemon|devices|drivers|config)/', pathNot: '^config/schema\\.ts$' },
    },
    {
      name: 'drivers-move-bytes',
      severity: 'error',
      comment: 'drivers know bytes and frames, not devices, config or the daemon',
      from: { path: '^drivers/' },
      to: { path: '^(daemon|devices|config|contract)/' },
    },
    {
      name: 'devices-are-definitions',
      severity: 'error',
      comment: 'a device model is data plus a codec: it never reaches into the daemon',
      from: { path: '^devices/' },
      to: { path: '^daemon/' },
    },
    {
      name: 'engine-is-pure',
      severity: 'error',
      comment: 'the engine decides from the state and the time it is given: no other daemon part, no I/O',
      from: { path: '^daemon/engine/' },
      to: { path: '^(daemon/(?!engine/)|devices/|drivers/)' },
    },
    {
      name: 'engine-no-io',
      severity: 'error',
      comment: 'no file, network, process or timer modules in the engine',
      from: { path: '^daemon/engine/' },
      to: { dependencyTypes: ['core'], path: '^(fs|net|http|https|child_process|dgram|timers|worker_threads|node:)' },
    },
    {
      name: 'modules-apart',
      severity: 'error',
      comment: 'a module is handed ports (contract/ports.ts) by daemon/hub.ts; it never imports another module',
      from: { path: '^daemon/([^/]+)/' },
      to: { path: '^daemon/[^/]+/', pathNot: ['^daemon/$1/', '^daemon/(spine|engine|store)/'] },
    },
    {
      name: 'nothing-imports-the-process',
      severity: 'error',
      comment: 'daemon/*.ts wire and run the modules; modules do not import them',
      from: { path: '^(daemon/[^/]+/|contract/|devices/|drivers/|config/)' },
      to: { path: '^daemon/[^/]+\\.ts$' },
    },
    {
      name: 'no-tests-in-the-product',
      severity: 'error',
      from: { path: '^(contract|daemon|devices|drivers|config)/' },
      to: { path: '^tests/' },
    },
  ],
  options: {
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
