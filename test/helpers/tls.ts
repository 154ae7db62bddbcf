// A self-signed TLS key and certificate for loopback tests (openssl, which .ci/run installs).
import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** Writes key.pem and cert.pem (CN and SAN localhost, plus `extraSan`) into `dir`. */
export function selfSignedCert(dir: string, extraSan = ''): { key: string; cert: string } {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
    '-addext', `subjectAltName=DNS:localhost${extraSan ? `,${extraSan}` : ''}`, '-keyout', key, '-out', cert,
  ], { stdio: 'ignore', timeout: 30_000 });
  return { key, cert };
}
