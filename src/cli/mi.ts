// `sipsd mi`: run one management command against a running server, like `opensips-cli -x mi` or `kamcmd`.
import { callMgmt } from '../mgmt/client.js';
import { MgmtError } from '../mgmt/errors.js';
import type { MgmtParams } from '../mgmt/registry.js';
import type { CliIo } from './io.js';

interface MiArgs {
  url: string;
  token: string | undefined;
  json: boolean;
  command: string;
  params: MgmtParams | undefined;
}

const usage = (
  url: string,
): string => `usage: sipsd mi [--url URL] [--token TOKEN] [--json] <command> [args...]

Runs a command on a running sipsd through its management interface (JSON-RPC 2.0 over HTTP).
  args          key=value args become named params, other args positional ones (not both at once);
                values that parse as JSON (numbers, true, false, null, "quoted") are sent as such,
                anything else as a string
  --url URL     management interface URL (default ${url})
  --token T     bearer token, when the server requires one
  --json        print the result as one line of JSON instead of indented JSON
  --            end of options: later args are params even if they start with --

List the commands with: sipsd mi which
`;

/** What may stand left of `=` in a named arg; anything else (`abc==`, a URL...) is a positional value. */
const PARAM_NAME = /^[A-Za-z_][\w.-]*$/;
const VALUE_OPTIONS = new Set(['--url', '--token']);

export async function miCommand(
  argv: string[],
  io: CliIo,
  defaults: { url: string; token?: string },
): Promise<number> {
  const parsed = parseArgs(argv, defaults);
  if (parsed === 'help') {
    io.stdout(usage(defaults.url));
    return 0;
  }
  if (typeof parsed === 'string') {
    io.stderr(`${parsed}\n\n${usage(defaults.url)}`);
    return 2;
  }
  try {
    const result = await callMgmt(parsed.url, parsed.command, parsed.params, { token: parsed.token });
    io.stdout(`${parsed.json ? JSON.stringify(result) : JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (err) {
    if (err instanceof MgmtError) {
      const data = err.data === undefined ? '' : `${JSON.stringify(err.data, null, 2)}\n`;
      io.stderr(`error ${err.code}: ${err.message}\n${data}`);
    } else {
      io.stderr(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    return 1;
  }
}

/** The call to make, 'help', or a usage error message. */
function parseArgs(argv: string[], defaults: { url: string; token?: string }): MiArgs | 'help' | string {
  let url = defaults.url;
  let token = defaults.token;
  let json = false;
  const words: string[] = [];
  let optionsEnded = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (optionsEnded || !(arg.startsWith('--') || arg === '-h')) {
      words.push(arg);
      continue;
    }
    const [flag, inline] = splitOption(arg);
    if (inline !== undefined && !VALUE_OPTIONS.has(flag)) return `${flag} takes no value`;
    switch (flag) {
      case '--':
        optionsEnded = true;
        break;
      case '-h':
      case '--help':
        return 'help';
      case '--json':
        json = true;
        break;
      case '--url':
      case '--token': {
        const value = inline ?? argv[++i];
        if (value === undefined || value === '') return `${flag} needs a value`;
        if (flag === '--url') url = value;
        else token = value;
        break;
      }
      default:
        return `unknown option ${flag}`;
    }
  }
  if (!URL.canParse(url)) return `invalid management URL: ${url}`;
  const [command, ...args] = words;
  if (command === undefined) return 'no command given';
  const pairs = args
    .map(splitOption)
    .filter((pair): pair is [string, string] => pair[1] !== undefined && PARAM_NAME.test(pair[0]));
  let params: MgmtParams | undefined;
  if (args.length === 0) {
    params = undefined;
  } else if (pairs.length === args.length) {
    params = Object.fromEntries(pairs.map(([key, value]) => [key, parseValue(value)]));
  } else if (pairs.length === 0) {
    params = args.map(parseValue);
  } else {
    return 'mixed key=value and positional args: JSON-RPC takes one or the other';
  }
  return { url, token, json, command, params };
}

function splitOption(arg: string): [string, string | undefined] {
  const eq = arg.indexOf('=');
  return eq === -1 ? [arg, undefined] : [arg.slice(0, eq), arg.slice(eq + 1)];
}

function parseValue(raw: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return raw;
  }
  // Huge integers (certificate serials...) would silently lose digits as JSON numbers: keep their text.
  const lossy =
    typeof value === 'number' &&
    (Number.isInteger(value) ? !Number.isSafeInteger(value) : !Number.isFinite(value));
  return lossy ? raw : value;
}
