#!/usr/bin/env -S node --max-semi-space-size=32
// Node flags above: a 32 MB young generation (Node's default is 16) cuts a saturated worker's CPU per
// message by about a third, as messages in flight stop being promoted to the old generation
// (docs/performance.md).
// The `sipsd` command: dispatches to the subcommands; each lives in its own file.
import { certCommand } from './cert.js';
import { dbCommand } from './db.js';
import { importCommand } from './import.js';
import { processIo, type CliIo } from './io.js';
import { miCommand } from './mi.js';
import { checkCommand, startCommand } from './start.js';
import { VERSION } from '../server.js';

const USAGE = `usage: sipsd <command> [options]

  start [-c config.yaml]   start the server (first run: creates .sipsd/ with a config and test PKI)
  check [-c config.yaml]   validate a configuration, its certificates and script, without starting
  cert <subcommand>        create a CA, issue and revoke certificates, write CRLs (sipsd cert help)
  db <command>             TLS domains in SQL: init, add-domain, list-domains, remove-domain (sipsd db help)
  mi <command> [args]      call the management interface (sipsd mi which)
  import opensips|kamailio FILE [-o out.yaml]
                           convert an OpenSIPS/Kamailio/OpenSER config (docs/import.md)
  version                  print the version

The data folder is $SIPSD_HOME or ./.sipsd; see README.md and docs/.
`;

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return startCommand(rest, io);
    case 'check':
      return checkCommand(rest, io);
    case 'cert':
      return certCommand(rest, io);
    case 'db':
      return dbCommand(rest, io);
    case 'import':
      return importCommand(rest, io);
    case 'mi':
      return miCommand(rest, io, {
        url: process.env['SIPSD_MI_URL'] ?? 'http://127.0.0.1:8888/',
        token: process.env['SIPSD_MI_TOKEN'],
      });
    case 'version':
    case '--version':
      io.stdout(`sipsd ${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.stdout(USAGE);
      return 0;
    default:
      io.stderr(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2), processIo).then(
  (code) => {
    // A worker of a multi-process server lives on after `start` returns (WORKER_RUNS).
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`sipsd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
