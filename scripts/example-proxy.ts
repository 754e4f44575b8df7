// An example routing script: answers keepalive OPTIONS, refuses unverified TLS peers, and forwards
// everything else statelessly to its Request-URI, logging how each request arrived.
import { defineScript } from 'sipsd';

export default defineScript({
  name: 'example proxy',
  async request(ctx) {
    const maxForwards = ctx.msg.maxForwards();
    if (maxForwards !== undefined && maxForwards <= 0) return ctx.reply(483, 'Too Many Hops');
    if (ctx.msg.method === 'OPTIONS' && ctx.pv('$rU') === undefined) return ctx.reply(200, 'OK');

    ctx.log.info(ctx.expand('$rm $ru from $si:$sp over $pr'));
    if (ctx.proto === 'tls' && !ctx.isPeerVerified()) {
      return ctx.reply(403, 'Forbidden - TLS peer not verified');
    }
    try {
      await ctx.forward();
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, 'forward failed');
      if (ctx.msg.method !== 'ACK') await ctx.reply(503, 'Service Unavailable');
    }
  },
});
