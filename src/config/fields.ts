// Field types shared by the configuration schema and the shapes other layers contribute to it.
import { z } from 'zod';
import type { LogLevel } from '../log/logger.js';

export { flag } from '../tls/domain.js';

/** A whole number within bounds, with messages an operator can act on. */
export const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .number({ error: 'expected a number' })
    .int({ error: 'expected a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

export const port = int(0, 65535);
export const path = z.string().min(1, { error: 'expected a file path' });

/** Level names, most verbose first. */
export const LOG_LEVELS = [
  'trace',
  'debug',
  'info',
  'warn',
  'error',
  'fatal',
] as const satisfies readonly LogLevel[];

/** The level a Kamailio log level number (L_ALERT -5 … L_DBG 3) stands for when messages are written at it. */
export function kamailioLevel(n: number): LogLevel {
  if (n >= 4) return 'trace'; // beyond L_DBG: shown only with the most verbose setting
  if (n === 3) return 'debug';
  if (n >= 1) return 'info'; // L_NOTICE, L_INFO
  if (n === 0) return 'warn';
  return n === -1 ? 'error' : 'fatal';
}

/** A level to write messages at: a Kamailio number or a level name; parsed to the name. */
export const messageLevel = z.union([z.enum(LOG_LEVELS), int(-5).transform(kamailioLevel)], {
  error:
    'expected a Kamailio log level (a whole number from -5, L_DBG = 3) or trace, debug, info, warn, error, fatal',
});
