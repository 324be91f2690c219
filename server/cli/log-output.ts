// Where the control server's log lines go. A person at a terminal reads one short line per event
// (pino-pretty, in-process and synchronous so that nothing is lost at exit); anything else (a
// file, journald, a log shipper) gets pino's JSON lines, one object per event.
import pinoPretty from 'pino-pretty';

export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `--log-format` when given, else pretty on a terminal and JSON otherwise. */
export function defaultLogFormat(stdoutIsTty: boolean): LogFormat {
  return stdoutIsTty ? 'pretty' : 'json';
}

/** Fastify's logger option for this format and level. */
export function loggerOptions(format: LogFormat, level: LogLevel): { level: string; stream?: { write(line: string): void } } {
  if (format === 'json') return { level };
  return {
    level,
    stream: pinoPretty({
      sync: true,
      singleLine: true,
      colorize: Boolean(process.stdout.isTTY),
      translateTime: 'SYS:HH:MM:ss',
      // The event name is the message already (lifecycle events), the process is this one.
      ignore: 'pid,hostname,event,reqId',
    }),
  };
}
