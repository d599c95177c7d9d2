import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * pino JSON on stdout, one line per event. `authorization` headers and anything named like a
 * token or password are redacted wherever they appear in a logged object.
 */
export function createLogger(opts: { level: string; service: string; node: string }): Logger {
  return pino({
    level: opts.level,
    base: { service: opts.service, node: opts.node },
    redact: {
      paths: ['*.authorization', '*.headers.authorization', 'token', '*.token', 'password', '*.password', 'apiToken', '*.apiToken'],
      censor: '[redacted]',
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
