// "Trusted calls over TLS", the scenario of every seed's script example (OpenSIPS tls_mgm §1.10),
// in TypeScript: a proxy for one domain registers its users with digest authentication, relays
// their calls to peer domains over mutually authenticated TLS, and marks calls that arrived over
// TLS (from a verified peer domain) or from an authenticated local user with Alert-Info headers,
// so the phone can ring differently for them.
//
// Use it as it is by naming a small module of your own in `script:`:
//
//   import { trustedCalls } from 'sipsd/scripts/trusted-calls.ts';
//   export default trustedCalls({ domain: 'domA.net', peers: { 'domB.net': 'tls:domB.net:5061' } });
import { defineScript, type RequestContext, type Script } from 'sipsd';

export interface TrustedCallsOptions {
  /** The domain this proxy serves (its users register here); also list it under `alias`. */
  domain: string;
  /** Peer domains and how to reach them, e.g. `{ 'domB.net': 'tls:domB.net:5061' }`. */
  peers: Record<string, string>;
  /** The Alert-Info values a trusted INVITE gets (one per phone family, as in the seeds). */
  alertInfo?: string[];
}

const SEED_ALERT_INFO = ['1', 'Bellcore-dr4', '<http://foo.bar/x.wav>'];

export function trustedCalls(options: TrustedCallsOptions): Script {
  const alertInfo = options.alertInfo ?? SEED_ALERT_INFO;
  const peerOf = (host: string) => options.peers[host.toLowerCase()];

  /** A request that claims to come from our domain must prove it (REGISTERs are checked later). */
  async function authenticateLocal(ctx: RequestContext): Promise<'trusted' | 'answered'> {
    const auth = await ctx.authorize('proxy', options.domain);
    if (!auth.ok) {
      await ctx.challenge(auth);
      return 'answered';
    }
    if (auth.user.username !== ctx.pv('$fU')) {
      await ctx.reply(403, 'Use your own identity in From');
      return 'answered';
    }
    ctx.consumeCredentials(auth);
    return 'trusted';
  }

  async function register(ctx: RequestContext): Promise<void> {
    const auth = await ctx.authorize('www', options.domain);
    if (!auth.ok) return ctx.challenge(auth);
    if (auth.user.username !== ctx.pv('$tU')) return ctx.reply(403, 'Use your own identity in To');
    ctx.consumeCredentials(auth);
    await ctx.save();
  }

  return defineScript({
    name: `trusted calls for ${options.domain}`,
    async request(ctx) {
      if (ctx.checkMaxForwards() === 'too-many-hops') return ctx.reply(483, 'Too Many Hops');
      const method = ctx.msg.method;

      // Peer domains reach us over TLS only with a certificate our CAs vouch for.
      if (ctx.proto === 'tls' && !ctx.isPeerVerified()) return ctx.reply(403, 'TLS peer not verified');

      let localUser = false;
      if (ctx.pv('$fd') === options.domain && method !== 'REGISTER' && method !== 'ACK') {
        if (['INVITE', 'SUBSCRIBE', 'MESSAGE'].includes(method)) {
          if ((await authenticateLocal(ctx)) === 'answered') return;
          localUser = true;
        }
      } else if (method === 'INVITE' && !ctx.isMyself(ctx.msg.requestUri)) {
        return ctx.reply(403, 'No relaying');
      }

      if (method !== 'REGISTER') ctx.recordRoute();
      if (ctx.looseRoute()) return void (await ctx.relay());

      const target = ctx.pv('$rd');
      if (typeof target === 'string' && !ctx.isMyself(ctx.msg.requestUri)) {
        ctx.msg.addHeader('P-hint', 'OUTBOUND');
        return void (await ctx.relay(peerOf(target)));
      }

      if (method === 'REGISTER') return register(ctx);
      if (!ctx.lookup()) return ctx.reply(404, 'Not Found');

      ctx.msg.removeHeader('Alert-Info');
      if (method === 'INVITE' && (ctx.proto === 'tls' || localUser)) {
        for (const value of alertInfo) ctx.msg.addHeader('Alert-Info', value);
      }
      await ctx.relay();
    },
  });
}
