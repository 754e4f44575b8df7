// OpenSSL engines (Kamailio engine, engine_config, engine_algorithms, `/engine:` private keys), as
// far as this machine allows: the settings' checks everywhere, and with SoftHSM and the pkcs11
// engine installed (apt-get install softhsm2 libengine-pkcs11-openssl) a key held in a token
// serving real TLS handshakes, in child processes since engine state is process-wide.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { constants, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  activateEngine,
  checkEngineKey,
  currentEngine,
  engineAlgorithmFlags,
  engineKeyOptions,
  isEngineKey,
  redactEngineKey,
} from '../../src/tls/engine.js';

test("engine_algorithms: Kamailio's names to Node's flags", () => {
  const c = constants;
  assert.deepEqual(engineAlgorithmFlags('ALL'), { flags: c.ENGINE_METHOD_ALL });
  assert.deepEqual(engineAlgorithmFlags('RSA, ec'), { flags: c.ENGINE_METHOD_RSA | c.ENGINE_METHOD_EC });
  assert.deepEqual(engineAlgorithmFlags('PKEY'), {
    flags: c.ENGINE_METHOD_PKEY_METHS | c.ENGINE_METHOD_PKEY_ASN1_METHS,
  });
  assert.deepEqual(engineAlgorithmFlags('PKEY_CRYPTO,PKEY_ASN1,RAND,CIPHERS,DIGESTS,DSA,DH'), {
    flags:
      c.ENGINE_METHOD_PKEY_METHS |
      c.ENGINE_METHOD_PKEY_ASN1_METHS |
      c.ENGINE_METHOD_RAND |
      c.ENGINE_METHOD_CIPHERS |
      c.ENGINE_METHOD_DIGESTS |
      c.ENGINE_METHOD_DSA |
      c.ENGINE_METHOD_DH,
  });
  assert.match(
    String((engineAlgorithmFlags('RSA,SHA1') as { error: string }).error),
    /^unknown method "SHA1"/,
  );
});

test('/engine: private keys: options for the active engine, precise errors, PINs masked', () => {
  assert.equal(isEngineKey('/engine:my_HSM_key_label'), true);
  assert.equal(isEngineKey('/etc/sipsd/key.pem'), false);
  const engine = { id: 'pkcs11', folder: undefined, algorithms: undefined };
  assert.deepEqual(engineKeyOptions('/engine:pkcs11:token=T;object=K', engine), {
    privateKeyEngine: 'pkcs11',
    privateKeyIdentifier: 'pkcs11:token=T;object=K',
  });
  assert.throws(
    () => engineKeyOptions('/engine:pkcs11:token=T;object=K;pin-value=1234', undefined),
    (err: Error) =>
      /is held by an OpenSSL engine: set engine/.test(err.message) && !err.message.includes('1234'),
  );
  assert.throws(() => engineKeyOptions('/engine:', engine), /is not an engine key: write \/engine:<key id>/);
  assert.equal(
    redactEngineKey('/engine:pkcs11:token=T;object=K;pin-value=1234'),
    '/engine:pkcs11:token=T;object=K;pin-value=***',
  );
});

describe('activating the engine', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sipsd-engine-'));
  });
  after(async () => {
    await activateEngine({}, { baseDir: dir });
    rmSync(dir, { recursive: true, force: true });
  });

  test('engine_config and engine_algorithms need an engine', async () => {
    await assert.rejects(
      activateEngine({ engine_algorithms: 'ALL' }, { baseDir: dir }),
      /^Error: engine_algorithms: needs engine/,
    );
    await assert.rejects(
      activateEngine({ engine: 'NONE', engine_config: 'x.cnf' }, { baseDir: dir }),
      /^Error: engine_config: needs engine/,
    );
    assert.deepEqual(await activateEngine({ engine: 'NONE' }, { baseDir: dir }), []);
    assert.equal(currentEngine(), undefined);
  });

  test('an engine that is nowhere is named with the folders searched', async () => {
    await assert.rejects(
      activateEngine({ engine: 'no_such_engine' }, { baseDir: dir, env: {}, searchDirs: [dir] }),
      new RegExp(
        `^Error: engine: no OpenSSL engine "no_such_engine".*no no_such_engine.so is in ${dir}; set OPENSSL_ENGINES`,
      ),
    );
  });

  test('engine_config must be read by OpenSSL at startup, under the name Node reads', async () => {
    const kamailioStyle = join(dir, 'kamailio.cnf');
    writeFileSync(kamailioStyle, 'kamailio = openssl_init\n[ openssl_init ]\nengines = engine_section\n');
    await assert.rejects(
      activateEngine({ engine: 'dynamic', engine_config: 'kamailio.cnf' }, { baseDir: dir, env: {} }),
      /has no "nodejs_conf = <section>" line.*add "nodejs_conf = openssl_init"/,
    );
    const nodeStyle = join(dir, 'node.cnf');
    writeFileSync(nodeStyle, 'nodejs_conf = openssl_init\n[ openssl_init ]\n');
    await assert.rejects(
      activateEngine(
        { engine: 'dynamic', engine_config: nodeStyle },
        { baseDir: dir, env: {}, execArgv: [] },
      ),
      new RegExp(`only when Node starts: start sipsd with OPENSSL_CONF=${nodeStyle}`),
    );
    // In force (as if started with it): Node's built-in "dynamic" engine activates.
    const notes = await activateEngine(
      { engine: 'dynamic', engine_config: nodeStyle },
      { baseDir: dir, env: { OPENSSL_CONF: nodeStyle } },
    );
    assert.deepEqual(notes, [
      `engine_config ${nodeStyle} is in force (read by OpenSSL at startup)`,
      'engine dynamic loaded',
    ]);
    assert.equal(currentEngine()?.id, 'dynamic');
    // --openssl-config on the command line counts too.
    await activateEngine(
      { engine: 'dynamic', engine_config: nodeStyle },
      { baseDir: dir, env: {}, execArgv: [`--openssl-config=${nodeStyle}`] },
    );
  });

  test('an engine that holds no such key: the key is refused at load, with the reason', async () => {
    // "dynamic" (built into Node's OpenSSL) loads other engines; it holds no keys itself.
    await activateEngine({ engine: 'dynamic' }, { baseDir: dir });
    await assert.rejects(
      checkEngineKey('', '/engine:some-label'),
      /^Error: engine "dynamic" cannot load the key "\/engine:some-label" with the certificate: Failure to initialize engine/,
    );
  });
});

/** The pkcs11 engine of libp11, where Debian and Red Hat install it. */
const PKCS11_ENGINE = [
  '/usr/lib/x86_64-linux-gnu/engines-3',
  '/usr/lib/aarch64-linux-gnu/engines-3',
  '/usr/lib64/engines-3',
].find((d) => existsSync(join(d, 'pkcs11.so')));
const SOFTHSM = spawnSync('softhsm2-util', ['--version']).status === 0;
const hsmSkip =
  PKCS11_ENGINE && SOFTHSM
    ? false
    : 'needs SoftHSM and the pkcs11 engine: apt-get install softhsm2 libengine-pkcs11-openssl';

describe('a private key in a PKCS#11 token (SoftHSM) through the pkcs11 engine', { skip: hsmSkip }, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const PIN = '1234';
  const uri = (object: string, pin = true) =>
    `/engine:pkcs11:token=sipsd;object=${object}${pin ? `;pin-value=${PIN}` : ''}`;

  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { env, encoding: 'utf8' });
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  };

  /** Runs hsm-child.ts; `extraEnv` can put an OpenSSL config in force from the start. */
  const child = (settings: object, keys: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'hsm-child.ts')], {
      env: {
        ...env,
        ...extraEnv,
        HSM_SETTINGS: JSON.stringify(settings),
        HSM_KEYS: JSON.stringify(keys),
        HSM_CERT: join(dir, 'cert.pem'),
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as {
      notes?: string[];
      error?: string;
      keys: Array<{
        spec: string;
        ok: boolean;
        error?: string;
        protocol?: string;
        authorized?: boolean;
        domain?: { protocol?: string; authorized?: boolean; error?: string };
      }>;
    };
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sipsd-hsm-'));
    writeFileSync(
      join(dir, 'softhsm2.conf'),
      `directories.tokendir = ${dir}\nobjectstore.backend = file\nlog.level = ERROR\n`,
    );
    env = { ...process.env, SOFTHSM2_CONF: join(dir, 'softhsm2.conf') };
    delete env['OPENSSL_CONF'];
    delete env['OPENSSL_ENGINES'];
    run('softhsm2-util', [
      '--init-token',
      '--free',
      '--label',
      'sipsd',
      '--pin',
      PIN,
      '--so-pin',
      '12345678',
    ]);
    for (const [label, id] of [
      ['good', '01'],
      ['other', '02'],
      ['ec', '03'],
    ] as const) {
      const { privateKey } =
        label === 'ec'
          ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
          : generateKeyPairSync('rsa', { modulusLength: 2048 });
      writeFileSync(join(dir, `${label}.pem`), privateKey.export({ type: 'pkcs8', format: 'pem' }));
      run('softhsm2-util', [
        '--import',
        join(dir, `${label}.pem`),
        '--token',
        'sipsd',
        '--label',
        label,
        '--id',
        id,
        '--pin',
        PIN,
      ]);
    }
    run('openssl', [
      'req',
      '-x509',
      '-key',
      join(dir, 'good.pem'),
      '-subj',
      '/CN=hsm.sipsd.test',
      '-days',
      '2',
      '-out',
      join(dir, 'cert.pem'),
    ]);
    // Only the token keeps the keys.
    for (const label of ['good', 'other', 'ec']) rmSync(join(dir, `${label}.pem`));
    writeFileSync(
      join(dir, 'engine.cnf'),
      [
        'nodejs_conf = openssl_init',
        'kamailio = openssl_init',
        '[ openssl_init ]',
        'engines = engine_section',
        '[ engine_section ]',
        'pkcs11 = pkcs11_section',
        '[ pkcs11_section ]',
        'engine_id = pkcs11',
        `dynamic_path = ${join(PKCS11_ENGINE!, 'pkcs11.so')}`,
        `PIN = ${PIN}`,
        'init = 0',
        '',
      ].join('\n'),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('found in the system engines folder; the token key serves TLS; wrong keys are refused at load', () => {
    const out = child({ engine: 'pkcs11', engine_algorithms: 'RSA' }, [
      uri('good'),
      uri('other'),
      uri('ec'),
      uri('missing'),
    ]);
    assert.equal(out.error, undefined);
    assert.deepEqual(out.notes, [
      `engine pkcs11 loaded from ${PKCS11_ENGINE}`,
      'engine pkcs11 is the default for RSA',
    ]);
    const [good, other, ec, missing] = out.keys;
    assert.equal(good?.ok, true, good?.error);
    assert.equal(good?.authorized, true);
    assert.equal(good?.protocol, 'TLSv1.3');
    assert.deepEqual(good?.domain, { protocol: 'TLSv1.3', authorized: true }, 'served by a sipsd domain too');
    // Another RSA key: OpenSSL compares it with the certificate when the context is made.
    assert.equal(other?.ok, false);
    assert.match(
      String(other?.error),
      /cannot load the key ".*object=other;pin-value=\*\*\*" with the certificate: key values mismatch/,
    );
    // A key of another type goes in another slot: only signing a handshake shows it is wrong.
    assert.equal(ec?.ok, false);
    assert.match(
      String(ec?.error),
      /cannot sign for the certificate \(wrong key, or the engine cannot use it\)/,
    );
    for (const k of out.keys) assert.ok(!String(k.error).includes(PIN), 'the PIN is masked');
    assert.equal(missing?.ok, false);
    assert.match(
      String(missing?.error),
      /engine "pkcs11" cannot load the key .* with the certificate: object not found/,
    );
  });

  test('engine_config (the HSM Howto) gives the PIN when OpenSSL reads it at startup', () => {
    const cnf = join(dir, 'engine.cnf');
    const inForce = child({ engine: 'pkcs11', engine_config: cnf }, [uri('good', false)], {
      OPENSSL_CONF: cnf,
    });
    assert.equal(inForce.error, undefined);
    assert.equal(inForce.keys[0]?.ok, true, inForce.keys[0]?.error);
    assert.equal(inForce.keys[0]?.authorized, true);
    // Set but not read at startup: refused before any key is tried.
    const late = child({ engine: 'pkcs11', engine_config: cnf }, [uri('good', false)]);
    assert.match(String(late.error), /only when Node starts: start sipsd with OPENSSL_CONF=/);
  });
});
