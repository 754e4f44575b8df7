// Kamailio's OpenSSL engine parameters (seeds 002 §9 "HSM Howto", §10.35–10.37): `engine`,
// `engine_config`, `engine_algorithms`, and private keys written `/engine:<key id>`, which the
// engine loads (an HSM key label, a PKCS#11 URI). Node reaches engines through crypto.setEngine
// and the privateKeyEngine/privateKeyIdentifier options of a secure context; what that allows on a
// given build is found out here, once, at startup, so a key that cannot be used is reported before
// anything listens. OpenSSL's engine state is process-wide, hence one active engine per process.
import crypto from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { arch } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { Duplex } from 'node:stream';
import tls, { type SecureContext } from 'node:tls';

export const ENGINE_KEY_PREFIX = '/engine:';

/** Kamailio's engine_algorithms names (OpenSSL's ENGINE_set_default_string) as Node's flags. */
const METHODS: Readonly<Record<string, number>> = (() => {
  const c = crypto.constants;
  return {
    ALL: c.ENGINE_METHOD_ALL,
    RSA: c.ENGINE_METHOD_RSA,
    DSA: c.ENGINE_METHOD_DSA,
    DH: c.ENGINE_METHOD_DH,
    EC: c.ENGINE_METHOD_EC,
    RAND: c.ENGINE_METHOD_RAND,
    CIPHERS: c.ENGINE_METHOD_CIPHERS,
    DIGESTS: c.ENGINE_METHOD_DIGESTS,
    PKEY: c.ENGINE_METHOD_PKEY_METHS | c.ENGINE_METHOD_PKEY_ASN1_METHS,
    PKEY_CRYPTO: c.ENGINE_METHOD_PKEY_METHS,
    PKEY_ASN1: c.ENGINE_METHOD_PKEY_ASN1_METHS,
  };
})();

/** The flags of a comma-separated engine_algorithms list, or why it is not one. */
export function engineAlgorithmFlags(list: string): { flags: number } | { error: string } {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0)
    return { error: `expected a comma-separated list of ${Object.keys(METHODS).join(', ')}` };
  let flags = 0;
  for (const name of names) {
    const bits = METHODS[name.toUpperCase()];
    if (bits === undefined) {
      return {
        error: `unknown method "${name}"; expected a comma-separated list of ${Object.keys(METHODS).join(', ')}`,
      };
    }
    flags |= bits;
  }
  return { flags };
}

/** The engine settings as written in the config (Kamailio names). */
export interface EngineSettings {
  engine?: string | undefined;
  engine_config?: string | undefined;
  engine_algorithms?: string | undefined;
}

export interface ActiveEngine {
  /** The id OpenSSL knows the engine by (what privateKeyEngine names). */
  id: string;
  /** Where its shared library was found, when sipsd had to look for it (else OpenSSL found it). */
  folder: string | undefined;
  /** engine_algorithms as applied, if any. */
  algorithms: string | undefined;
}

export interface EngineEnvironment {
  /** Relative engine_config paths resolve here (the main config's folder). */
  baseDir: string;
  env?: NodeJS.ProcessEnv;
  execArgv?: readonly string[];
  /** Folders searched for `<id>.so` when OpenSSL does not know the id (Node's own ENGINESDIR is /dev/null). */
  searchDirs?: readonly string[];
}

let active: ActiveEngine | undefined;

/** The engine activated for this process, if any. */
export function currentEngine(): ActiveEngine | undefined {
  return active;
}

/** `engine` unset or Kamailio's NONE: no engine. */
function engineId(settings: EngineSettings): string | undefined {
  const id = settings.engine?.trim();
  return id === undefined || id === '' || id.toUpperCase() === 'NONE' ? undefined : id;
}

/** Where distributions install OpenSSL 3 engines (Debian multiarch, Red Hat lib64, source builds). */
function systemEngineDirs(): string[] {
  const multiarch = { x64: 'x86_64', arm64: 'aarch64', arm: 'arm', ppc64: 'powerpc64le', s390x: 's390x' }[
    arch() as string
  ];
  const gnu = multiarch
    ? [`/usr/lib/${multiarch}-linux-gnu${multiarch === 'arm' ? 'eabihf' : ''}/engines-3`]
    : [];
  return [
    ...gnu,
    '/usr/lib64/engines-3',
    '/usr/lib/engines-3',
    '/usr/local/lib64/engines-3',
    '/usr/local/lib/engines-3',
  ];
}

/** OpenSSL's reason out of "…error:0A000076:SSL routines:tls_choose_sigalg:no suitable signature algorithm:…". */
function errorText(err: unknown): string {
  const line = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
  return /error:[0-9A-F]{8}:[^:]*:[^:]*:([^:]+)/.exec(line)?.[1]?.trim() ?? line;
}

/** Loads the engine by id without making it the default for anything (flags 0). */
function probe(id: string): string | undefined {
  try {
    crypto.setEngine(id, 0);
    return undefined;
  } catch (err) {
    return errorText(err);
  }
}

/** Whether OpenSSL was told to read `file` when Node started (env or command line). */
function configInForce(file: string, env: NodeJS.ProcessEnv, execArgv: readonly string[]): boolean {
  const args = [...execArgv, ...(env['NODE_OPTIONS']?.split(/\s+/) ?? [])];
  const fromArgs = args.flatMap((a, i) =>
    a.startsWith('--openssl-config=')
      ? [a.slice(17)]
      : a === '--openssl-config' && args[i + 1]
        ? [args[i + 1]!]
        : [],
  );
  return [env['OPENSSL_CONF'], ...fromArgs].some((p) => p !== undefined && p !== '' && resolve(p) === file);
}

/**
 * Checks engine_config: OpenSSL reads its configuration only when Node starts, and Node reads the
 * section named by `nodejs_conf` (or `openssl_conf` with --openssl-shared-config), where Kamailio
 * reads `kamailio`. Returns the problem, or undefined when the file is in force.
 */
async function engineConfigProblem(
  file: string,
  env: NodeJS.ProcessEnv,
  execArgv: readonly string[],
): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return `engine_config: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? errorText(err)})`;
  }
  const shared = [...execArgv, env['NODE_OPTIONS'] ?? ''].some((a) => a.includes('--openssl-shared-config'));
  const appName = shared ? 'openssl_conf' : 'nodejs_conf';
  if (!new RegExp(`^\\s*${appName}\\s*=`, 'm').test(text)) {
    const kamailio = /^\s*kamailio\s*=\s*(\S+)/m.exec(text)?.[1];
    return (
      `engine_config: ${file} has no "${appName} = <section>" line, which is the one Node reads` +
      (kamailio ? ` (Kamailio reads "kamailio = ${kamailio}": add "${appName} = ${kamailio}")` : '')
    );
  }
  if (!configInForce(file, env, execArgv)) {
    return (
      `engine_config: OpenSSL reads its configuration only when Node starts: start sipsd with ` +
      `OPENSSL_CONF=${file} in its environment (or node --openssl-config=${file})`
    );
  }
  return undefined;
}

/**
 * Makes the configured engine this process's engine: finds it (OpenSSL's own list, which holds the
 * engines engine_config set up, then the system's engines folders through OPENSSL_ENGINES), checks
 * engine_config is in force and applies engine_algorithms. Throws with the setting and the reason.
 * Returns what was done, for the startup log. Without `engine`, clears the active engine.
 */
export async function activateEngine(settings: EngineSettings, where: EngineEnvironment): Promise<string[]> {
  const env = where.env ?? process.env;
  const execArgv = where.execArgv ?? process.execArgv;
  const id = engineId(settings);
  active = undefined;
  if (id === undefined) {
    for (const key of ['engine_config', 'engine_algorithms'] as const) {
      if (settings[key] !== undefined)
        throw new Error(`${key}: needs engine (the OpenSSL engine id, e.g. pkcs11)`);
    }
    return [];
  }
  const notes: string[] = [];
  if (settings.engine_config !== undefined) {
    const file = isAbsolute(settings.engine_config)
      ? settings.engine_config
      : resolve(where.baseDir, settings.engine_config);
    const problem = await engineConfigProblem(file, env, execArgv);
    if (problem) throw new Error(problem);
    notes.push(`engine_config ${file} is in force (read by OpenSSL at startup)`);
  }

  let folder: string | undefined;
  let failure = probe(id);
  if (failure !== undefined) {
    // Node's bundled OpenSSL looks for engines in /dev/null; OPENSSL_ENGINES, read on every
    // load, points it at the folder that holds `<id>.so`.
    const dirs = [
      ...(env['OPENSSL_ENGINES'] ? [env['OPENSSL_ENGINES']] : []),
      ...(where.searchDirs ?? systemEngineDirs()),
    ];
    folder = dirs.find((d) => existsSync(join(d, `${id}.so`)) || existsSync(join(d, `lib${id}.so`)));
    if (folder === undefined) {
      throw new Error(
        `engine: no OpenSSL engine "${id}": OpenSSL does not know it (not built in, not set up by ` +
          `engine_config) and no ${id}.so is in ${dirs.join(', ')}; set OPENSSL_ENGINES to its folder`,
      );
    }
    if (env['OPENSSL_ENGINES'] !== undefined && env['OPENSSL_ENGINES'] !== folder) {
      throw new Error(`engine: ${id}.so is in ${folder}, not in OPENSSL_ENGINES=${env['OPENSSL_ENGINES']}`);
    }
    env['OPENSSL_ENGINES'] = folder;
    failure = probe(id);
    if (failure !== undefined)
      throw new Error(`engine: OpenSSL cannot load "${id}" from ${folder}: ${failure}`);
    notes.push(`engine ${id} loaded from ${folder}`);
  } else notes.push(`engine ${id} loaded`);

  if (settings.engine_algorithms !== undefined) {
    const parsed = engineAlgorithmFlags(settings.engine_algorithms);
    if ('error' in parsed) throw new Error(`engine_algorithms: ${parsed.error}`);
    try {
      crypto.setEngine(id, parsed.flags);
    } catch (err) {
      throw new Error(
        `engine_algorithms: engine "${id}" refused ${settings.engine_algorithms}: ${errorText(err)}`,
      );
    }
    notes.push(`engine ${id} is the default for ${settings.engine_algorithms}`);
  }
  active = { id, folder, algorithms: settings.engine_algorithms };
  return notes;
}

/** Whether a private_key value names a key held by the engine rather than a file. */
export function isEngineKey(privateKey: string): boolean {
  return privateKey.startsWith(ENGINE_KEY_PREFIX);
}

/** The key spec as it may be shown: a PIN in a PKCS#11 URI (pin-value=) is masked. */
export function redactEngineKey(spec: string): string {
  return spec.replace(/(pin-value=)[^;?&]*/gi, '$1***');
}

export interface EngineKeyOptions {
  privateKeyEngine: string;
  privateKeyIdentifier: string;
}

/**
 * The secure-context options for a `/engine:<key id>` private key: use them instead of `key` and
 * `passphrase`. Throws when the spec is empty or no engine is active.
 */
export function engineKeyOptions(spec: string, engine = currentEngine()): EngineKeyOptions {
  const keyId = spec.slice(ENGINE_KEY_PREFIX.length);
  if (!isEngineKey(spec) || keyId.trim() === '') {
    throw new Error(
      `"${redactEngineKey(spec)}" is not an engine key: write /engine:<key id>, e.g. /engine:pkcs11:token=T;object=K`,
    );
  }
  if (!engine) {
    throw new Error(
      `"${redactEngineKey(spec)}" is held by an OpenSSL engine: set engine (its id, e.g. pkcs11) at the top of the config`,
    );
  }
  return { privateKeyEngine: engine.id, privateKeyIdentifier: keyId };
}

/** Two connected in-memory streams: a handshake between them needs no socket. */
function streamPair(): [Duplex, Duplex] {
  const make = (): Duplex & { peer?: Duplex } =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _enc, done) {
        (this as Duplex & { peer?: Duplex }).peer!.push(chunk);
        done();
      },
      final(done) {
        (this as Duplex & { peer?: Duplex }).peer!.push(null);
        done();
      },
    });
  const a = make();
  const b = make();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/**
 * Loads the engine key with the certificate chain and proves they belong together by signing a
 * handshake in memory: OpenSSL files keys of different types in different slots, so a mismatched
 * engine key is not caught when the context is made, and only a signature shows the PIN works.
 * Resolves with the checked context options; rejects with the reason.
 */
export async function checkEngineKey(
  certificatePem: string,
  spec: string,
  engine = currentEngine(),
): Promise<EngineKeyOptions> {
  const options = engineKeyOptions(spec, engine);
  let context: SecureContext;
  try {
    context = tls.createSecureContext({ cert: certificatePem, ...options });
  } catch (err) {
    throw new Error(
      `engine "${options.privateKeyEngine}" cannot load the key "${redactEngineKey(spec)}" with the certificate: ${errorText(err)}`,
    );
  }
  const [serverSide, clientSide] = streamPair();
  const server = new tls.TLSSocket(serverSide, { isServer: true, secureContext: context });
  const client = tls.connect({ socket: clientSide, rejectUnauthorized: false });
  try {
    await new Promise<void>((done, fail) => {
      client.once('secureConnect', done);
      client.once('error', fail);
      server.once('error', fail);
      setTimeout(() => fail(new Error('no handshake within 10 s')), 10_000).unref();
    });
  } catch (err) {
    throw new Error(
      `the key "${redactEngineKey(spec)}" cannot sign for the certificate (wrong key, or the engine ` +
        `cannot use it): ${errorText(err)}`,
    );
  } finally {
    client.destroy();
    server.destroy();
  }
  return options;
}
