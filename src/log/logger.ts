// Structured logging through pino: JSON lines in production, one level knob, child loggers per layer.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** A level messages are written at (`silent` is only a threshold). */
export type LogLevel = Exclude<LevelWithSilent, 'silent'>;

export interface LogOptions {
  level: LevelWithSilent;
  /** Write to this file descriptor instead of stdout (tests use a pipe). */
  destination?: number;
}

/**
 * Keys that may hold secrets anywhere in a logged object: they are always censored, so a careless
 * `log.info({ domain })` can never leak a private key, passphrase or database password.
 */
const SECRET_PATHS = [
  'private_key',
  'privateKey',
  'passphrase',
  'password',
  'key',
  '*.private_key',
  '*.privateKey',
  '*.passphrase',
  '*.password',
  '*.key',
];

export function createLogger(options: LogOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { app: 'sipsd' },
      redact: { paths: SECRET_PATHS, censor: '[secret]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ fd: options.destination ?? 1, sync: false }),
  );
}

/** A logger that drops everything: for library use and tests that do not inspect logs. */
export const silentLogger: Logger = pino({ level: 'silent' });
