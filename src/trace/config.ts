// Configuration keys of HEP tracing, named as OpenSIPS proto_tls names its trace_* parameters (seeds
// 004 §1.5.7–1.5.9). `traceConfigShape` is merged into the main schema (src/config/schema.ts).
import { z } from 'zod';
import { flag } from '../tls/domain.js';
import { parseTraceDestination } from './destination.js';

export const traceConfigShape = {
  /** HEP collector, `[udp:|tcp:]host[:port]` (port 9060 by default); unset: no tracing. */
  trace_destination: z
    .string()
    .refine((text) => parseTraceDestination(text).ok, {
      error: (iss) => {
        const r = parseTraceDestination(String(iss.input));
        return r.ok ? 'invalid trace_destination' : r.reason;
      },
    })
    .optional(),
  /** Whether TLS tracing starts on; `sipsd mi tls_trace on|off` changes it at run time. */
  trace_on: flag.default(false),
  /** Name of the script function that may veto tracing a connection; default: `traceFilter`, if any. */
  trace_filter_route: z
    .string()
    .regex(/^[A-Za-z_$][A-Za-z0-9_$]*$/, { error: 'expected the name of a function of the routing script' })
    .optional(),
  /** HEP capture agent id (chunk 0x000c) that tells this server's packets apart at the collector. */
  trace_capture_id: z
    .number({ error: 'expected a number' })
    .int({ error: 'expected a whole number' })
    .min(0, { error: 'must be at least 0' })
    .max(0xffffffff, { error: 'must be at most 4294967295' })
    .default(1),
};
