// Reads deploy/lainlet.service the way systemd does for what the tests need: a section's
// `Key=value` settings with continuation lines joined, and ExecStart's words.
import { readFileSync } from 'node:fs';

const UNIT_FILE = new URL('../../deploy/lainlet.service', import.meta.url);

/** `Key=value` settings of one section of deploy/lainlet.service, comments dropped. */
export function unitSection(name: string): Map<string, string> {
  const lines = readFileSync(UNIT_FILE, 'utf8').replace(/\\\n\s*/g, ' ').split('\n');
  const settings = new Map<string, string>();
  let inside = false;
  for (const line of lines) {
    if (/^\[.*\]$/.test(line.trim())) inside = line.trim() === `[${name}]`;
    else if (inside && /^\w+=/.test(line)) settings.set(line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1).trim());
  }
  return settings;
}

/** ExecStart's words, `${NODE_IP}` replaced as systemd does from the EnvironmentFile. */
export function unitExecStart(nodeIp: string): string[] {
  return (unitSection('Service').get('ExecStart') ?? '').replaceAll('${NODE_IP}', nodeIp).split(/\s+/);
}
