import { pino, type Logger } from 'pino';

export type { Logger };

/** The process logger: JSON lines on stderr, so stdout stays free for command output. */
export function createLogger(debug: boolean): Logger {
  return pino({ level: process.env.LAINLET_LOG_LEVEL ?? (debug ? 'debug' : 'info'), base: undefined }, pino.destination(2));
}

/** A logger that drops everything (library use and unit tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
