// sipsd's side of the benchmarks: the same job as bench/kamailio/kamailio.cfg. Keepalive OPTIONS
// to the proxy are answered statelessly; in-dialog requests follow their Route; the rest goes,
// statefully, to the benchmark's UAS over TCP (its port in SIPSD_BENCH_UAS_PORT).
import { defineScript } from 'sipsd';

const uas = `tcp:127.0.0.1:${process.env.SIPSD_BENCH_UAS_PORT ?? '5090'}`;

export default defineScript({
  name: 'benchmark proxy',
  // Not an async function: each action's promise is returned as it is (the router handles it),
  // instead of being awaited inside one more promise per request.
  request(ctx) {
    if (ctx.checkMaxForwards() === 'too-many-hops') return ctx.reply(483, 'Too Many Hops');
    const method = ctx.msg.method;
    if (method === 'OPTIONS' && ctx.pv('$rU') === undefined && ctx.isMyself(ctx.msg.requestUri)) {
      return ctx.reply(200, 'OK');
    }
    if (ctx.msg.to().tag !== undefined) {
      if (ctx.looseRoute()) return ctx.relay();
      return; // an ACK or request outside any dialog we routed: nothing to do, as Kamailio
    }
    if (method === 'INVITE') ctx.recordRoute();
    return ctx.relay(uas);
  },
});
