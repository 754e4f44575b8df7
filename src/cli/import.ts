// `sipsd import opensips|kamailio FILE [-o out.yaml]`: converts an OpenSIPS or Kamailio config to a
// native sipsd config. The YAML goes to stdout or -o; every line that could not be mapped goes to
// stderr (and, as comments, to the end of the YAML).
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatReport, type ImportOptions, type ImportResult } from '../config/import/common.js';
import { importKamailio } from '../config/import/kamailio.js';
import { importOpensips } from '../config/import/opensips.js';
import { formatTlsCfgMessage, parseKamailioTlsCfg } from '../tls/sources/kamailio-tls-cfg.js';
import type { CliIo } from './io.js';

const IMPORTERS: Record<string, (text: string, file: string, opts: ImportOptions) => ImportResult> = {
  opensips: importOpensips,
  kamailio: importKamailio,
};

const USAGE = `usage: sipsd import opensips|kamailio FILE [-o out.yaml]

  opensips   an opensips.cfg (OpenSIPS 1.x-3.x tls_mgm and proto_tls, OpenSER core TLS settings)
  kamailio   a kamailio.cfg (core listen/TCP settings, the tls module; modparam("tls", "config")
             is kept as tls_config and read by sipsd at run time)
  -o FILE    write the YAML there instead of to stdout

Lines that could not be mapped are listed on stderr. See docs/import.md.
`;

export async function importCommand(argv: string[], io: CliIo): Promise<number> {
  let values: { output?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (err) {
    io.stderr(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  const [dialect, file, ...extra] = positionals;
  const importer = dialect === undefined ? undefined : IMPORTERS[dialect];
  if (!importer || file === undefined || extra.length > 0) {
    io.stderr(
      `${!importer && dialect !== undefined ? `unknown source "${dialect}"; ` : ''}${extra.length > 0 ? `unexpected "${extra.join(' ')}"; ` : ''}${USAGE}`,
    );
    return 2;
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    io.stderr(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})\n`);
    return 1;
  }
  const cwd = process.cwd();
  const result = importer(text, file, { cwd });
  for (const r of result.reports) io.stderr(`${formatReport(r)}\n`);
  await checkTlsConfig(result, file, cwd, io);

  if (values.output) {
    try {
      await writeFile(values.output, result.yaml);
    } catch (err) {
      io.stderr(`${values.output}: cannot write (${(err as NodeJS.ErrnoException).code ?? String(err)})\n`);
      return 1;
    }
  } else io.stdout(result.yaml);
  const domains = Array.isArray(result.config['tls_domains']) ? result.config['tls_domains'].length : 0;
  const unmapped = result.reports.filter((r) => r.kind === 'unmapped').length;
  io.stderr(
    `${file}: imported ${domains} TLS domain(s)${values.output ? ` into ${values.output}` : ''}; ${unmapped} line(s) not mapped\n`,
  );
  return 0;
}

/** A tls.cfg named by the config is read at run time; check it now so its problems show early. */
async function checkTlsConfig(result: ImportResult, file: string, cwd: string, io: CliIo): Promise<void> {
  const path = result.config['tls_config'];
  if (typeof path !== 'string') return;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    io.stderr(
      `${path}: note: the tls.cfg named by ${file} could not be read here; \`sipsd check\` will read it\n`,
    );
    return;
  }
  const parsed = parseKamailioTlsCfg(text, path, { mainConfigDir: dirname(resolve(cwd, file)), cwd });
  for (const p of parsed.problems) io.stderr(`${formatTlsCfgMessage(p)}\n`);
  for (const n of parsed.notices) io.stderr(`${formatTlsCfgMessage(n)}\n`);
}
