// A real Kamailio (apt-get install kamailio kamailio-tls-modules) as a peer: started in the
// foreground on loopback with a generated kamailio.cfg and tls.cfg, stopped with the test file.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MODULE_DIRS = [
  '/usr/lib/x86_64-linux-gnu/kamailio/modules',
  '/usr/lib/aarch64-linux-gnu/kamailio/modules',
];
const moduleDir = MODULE_DIRS.find((d) => existsSync(join(d, 'tls.so')));

/** Why Kamailio tests cannot run here, or false when they can. */
export const kamailioSkip: string | false =
  spawnSync('kamailio', ['-v']).status === 0 && moduleDir
    ? false
    : 'needs Kamailio with TLS: apt-get install kamailio kamailio-tls-modules';

export interface KamailioOptions {
  /** The request_route body. */
  route: string;
  /** tls.cfg contents. */
  tlsCfg: string;
  udpPort: number;
  tlsPort: number;
  /** More modules to load (file names, e.g. `tm.so`), before tls. */
  modules?: string[];
  /** More global settings and modparam lines. */
  globals?: string;
}

export class Kamailio {
  private output = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {
    const keep = (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20_000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  /** Starts Kamailio and waits until its TLS port accepts connections. */
  static async start(o: KamailioOptions): Promise<Kamailio> {
    const dir = mkdtempSync(join(tmpdir(), 'sipsd-kamailio-'));
    writeFileSync(join(dir, 'tls.cfg'), o.tlsCfg);
    writeFileSync(
      join(dir, 'kamailio.cfg'),
      `#!KAMAILIO
debug=2
log_stderror=yes
children=1
tcp_children=1
enable_tls=yes
auto_aliases=no
listen=udp:127.0.0.1:${o.udpPort}
listen=tls:127.0.0.1:${o.tlsPort}
mpath="${moduleDir}/"
${['sl.so', 'textops.so', 'pv.so', ...(o.modules ?? []), 'tls.so'].map((m) => `loadmodule "${m}"`).join('\n')}
modparam("tls", "config", "${join(dir, 'tls.cfg')}")
${o.globals ?? ''}
request_route {
${o.route}
}
`,
    );
    const child = spawn('kamailio', ['-f', join(dir, 'kamailio.cfg'), '-DD', '-E', '-Y', dir, '-w', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const k = new Kamailio(child, dir);
    const deadline = Date.now() + 10_000;
    while (!(await accepts(o.tlsPort))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await k.stop();
        throw new Error(`Kamailio did not start:\n${k.output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return k;
  }

  /** The last lines Kamailio logged, for failure messages. */
  get log(): string {
    return this.output;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (this.child.exitCode === null) this.child.kill('SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Whether a TCP connection to 127.0.0.1:port is accepted now. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
