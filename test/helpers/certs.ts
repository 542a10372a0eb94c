/**
 * Test certificates generated at test time with the openssl CLI (no private key is ever
 * committed). Reusable by every TLS-based test (TLS, HTTPS, HTTP/2, WebSocket over TLS):
 *
 * ```ts
 * const ca = await makeCa();
 * const server = await makeLeaf(ca, { dns: ['localhost', '*.example.test'], ip: ['127.0.0.1'] });
 * const client = await makeClientCert(ca, { commonName: 'alice' });
 * afterAll(() => cleanupCerts());
 * ```
 *
 * Keys are ECDSA P-256 (fast to generate). Every call writes into a fresh temp directory;
 * `cleanupCerts()` removes all of them.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Path of the openssl binary; override with GHOSTNET_OPENSSL. */
const OPENSSL = process.env['GHOSTNET_OPENSSL'] ?? '/usr/bin/openssl';
const EXEC_TIMEOUT_MS = 20_000;

export interface CertAndKey {
  /** PEM certificate. */
  readonly cert: string;
  /** PEM private key (PKCS#8). */
  readonly key: string;
  readonly certPath: string;
  readonly keyPath: string;
}

export interface Ca extends CertAndKey {
  readonly commonName: string;
}

export interface LeafOptions {
  /** DNS subjectAltNames (wildcards such as `*.example.test` allowed). */
  dns?: string[];
  /** IP subjectAltNames. */
  ip?: string[];
  /** Subject CN. Defaults to the first DNS name, or 'ghostnet-test-leaf'. */
  commonName?: string;
  /** Extended key usage. Default 'server'. */
  usage?: 'server' | 'client' | 'both';
  /** Validity in days. Default 2. */
  days?: number;
}

const dirs = new Set<string>();

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ghostnet-certs-'));
  dirs.add(dir);
  return dir;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync(OPENSSL, args, { cwd, timeout: EXEC_TIMEOUT_MS });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0] ?? ''} failed: ${stderr}`, { cause: err });
  }
}

async function load(dir: string): Promise<CertAndKey> {
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  return { cert, key, certPath, keyPath };
}

function subject(cn: string): string {
  // openssl -subj syntax: '/' separates RDNs; escape the separators in the value.
  return `/CN=${cn.replace(/[/\\]/g, (c) => `\\${c}`)}`;
}

const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA certificate that can sign leaves. */
export async function makeCa(options: { commonName?: string; days?: number } = {}): Promise<Ca> {
  const dir = await tempDir();
  const commonName = options.commonName ?? 'ghostnet test CA';
  await openssl(
    [
      'req',
      '-x509',
      ...KEY_ARGS,
      '-keyout',
      'key.pem',
      '-out',
      'cert.pem',
      '-days',
      String(options.days ?? 2),
      '-subj',
      subject(commonName),
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return { ...(await load(dir)), commonName };
}

/** A leaf certificate for the given names, signed by `ca`. */
export async function makeLeaf(ca: Ca, options: LeafOptions = {}): Promise<CertAndKey> {
  const dir = await tempDir();
  const dns = options.dns ?? [];
  const ip = options.ip ?? [];
  const cn = options.commonName ?? dns[0] ?? 'ghostnet-test-leaf';
  const usage = options.usage ?? 'server';
  const eku =
    usage === 'server' ? 'serverAuth' : usage === 'client' ? 'clientAuth' : 'serverAuth,clientAuth';
  const san = [...dns.map((n) => `DNS:${n}`), ...ip.map((a) => `IP:${a}`)];
  const ext = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${eku}`,
    ...(san.length > 0 ? [`subjectAltName=${san.join(',')}`] : []),
  ];
  await writeFile(join(dir, 'ext.cnf'), ext.join('\n') + '\n');
  await openssl(
    ['req', '-new', ...KEY_ARGS, '-keyout', 'key.pem', '-out', 'req.csr', '-subj', subject(cn)],
    dir,
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'req.csr',
      '-CA',
      ca.certPath,
      '-CAkey',
      ca.keyPath,
      '-set_serial',
      `0x${randomBytes(12).toString('hex')}`,
      '-days',
      String(options.days ?? 2),
      '-extfile',
      'ext.cnf',
      '-out',
      'cert.pem',
    ],
    dir,
  );
  return load(dir);
}

/** A client-authentication certificate (for mTLS), signed by `ca`. */
export function makeClientCert(
  ca: Ca,
  options: { commonName?: string; days?: number } = {},
): Promise<CertAndKey> {
  return makeLeaf(ca, {
    commonName: options.commonName ?? 'ghostnet test client',
    usage: 'client',
    ...(options.days !== undefined ? { days: options.days } : {}),
  });
}

/** Remove every temp directory created so far. */
export async function cleanupCerts(): Promise<void> {
  const all = [...dirs];
  dirs.clear();
  await Promise.all(all.map((d) => rm(d, { recursive: true, force: true })));
}
