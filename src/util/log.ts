import { pino, type Logger } from 'pino';

export type { Logger };

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** What is wrong with a `LAINLET_LOG_LEVEL` value, or undefined when it is usable (or unset). */
export function logLevelProblem(level: string | undefined): string | undefined {
  if (level === undefined || level === '' || LEVELS.includes(level)) return undefined;
  return `LAINLET_LOG_LEVEL=${level} is not a log level; use one of ${LEVELS.join(', ')}`;
}

/**
 * The process logger: JSON lines on stderr, so stdout stays free for command output. Level:
 * `LAINLET_LOG_LEVEL`, else debug with `-debug`, else `quietLevel` (info for the daemon).
 */
export function createLogger(debug: boolean, quietLevel = 'info', env: NodeJS.ProcessEnv = process.env): Logger {
  const problem = logLevelProblem(env.LAINLET_LOG_LEVEL);
  if (problem) throw new Error(problem);
  return pino({ level: env.LAINLET_LOG_LEVEL || (debug ? 'debug' : quietLevel), base: undefined }, pino.destination(2));
}

/** A logger that drops everything (library use and unit tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
