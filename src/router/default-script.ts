// The script used when the configuration names none: answer OPTIONS (keepalive probes and
// monitoring) and refuse everything else with a reply that says why.
import { defineScript } from './script.js';

export const defaultScript = defineScript({
  name: 'built-in default',
  async request(ctx) {
    if (ctx.msg.method === 'OPTIONS') {
      await ctx.reply(200, 'OK', { Allow: 'OPTIONS', Accept: 'application/sdp' });
      return;
    }
    if (ctx.msg.method === 'ACK') return; // nothing to answer
    await ctx.reply(403, 'Forbidden - no routing script configured (set "script" in the config)');
  },
});
