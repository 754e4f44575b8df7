// The reference in docs/ must name every configuration key, pseudo-variable and management command
// the code defines: adding one without documenting it fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configSchema } from '../src/config/schema.js';
import { tlsDomainInputSchema } from '../src/tls/domain.js';
import { coreVariables } from '../src/router/core-variables.js';
import { tlsVariables } from '../src/tls/variables.js';
import { CommandRegistry, registerBuiltinCommands } from '../src/mgmt/index.js';
import { registerTransportCommands } from '../src/transport/mgmt-commands.js';
import { registerTlsCommands } from '../src/tls/mgmt-commands.js';
import { registerTraceCommands, type Tracing } from '../src/trace/index.js';
import type { TlsManager } from '../src/tls/manager.js';
import type { SipsdConfig } from '../src/config/schema.js';
import type { TransportLayer } from '../src/transport/transport-layer.js';

const doc = (name: string) => readFileSync(join(import.meta.dirname, '../docs', name), 'utf8');

test('every configuration key has a row in the reference under docs/', () => {
  const text = readdirSync(join(import.meta.dirname, '../docs'))
    .filter((f) => f.endsWith('.md'))
    .map(doc)
    .join('\n');
  const keys = [
    ...Object.keys(configSchema.shape).filter((k) => k !== 'tls_domains' && k !== 'mi'),
    ...Object.keys(tlsDomainInputSchema.shape).map((k) => `tls_domains[].${k}`),
    ...['listen', 'token', 'allow_remote', 'enabled'].map((k) => `mi.${k}`),
  ];
  for (const key of keys)
    assert.ok(text.includes(`| \`${key}\` |`), `docs/configuration.md lacks a row for ${key}`);
});

test('every pseudo-variable is in docs/variables.md', () => {
  const text = doc('variables.md');
  for (const pv of [...coreVariables, ...tlsVariables])
    assert.ok(text.includes(`\`$${pv.name}`), `docs/variables.md lacks $${pv.name}`);
});

test('every management command is in docs/management.md', () => {
  const text = doc('management.md');
  const registry = new CommandRegistry();
  registerBuiltinCommands(registry, {
    version: '0',
    startedAt: new Date(),
    getLogLevel: () => 'info',
    setLogLevel: () => undefined,
  });
  registerTransportCommands(registry, {} as TransportLayer);
  // Registration reads nothing from these: handlers are only declared.
  registerTlsCommands(registry, {} as TlsManager, {} as TransportLayer, {} as SipsdConfig);
  registerTraceCommands(registry, {} as Tracing);
  for (const cmd of registry.list()) {
    assert.ok(text.includes(`| \`${cmd.name}\` |`), `docs/management.md lacks ${cmd.name}`);
    for (const alias of cmd.aliases ?? [])
      assert.ok(text.includes(`\`${alias}\``), `docs/management.md lacks alias ${alias}`);
  }
});
