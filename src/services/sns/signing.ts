/**
 * Message signatures in SNS's format. One RSA key pair and a self-signed X.509 certificate are made
 * on first use and kept in <data dir>/sns/, so signatures stay verifiable across restarts; the
 * certificate is served at SigningCertURL (CERT_PATH, one of the service instance's routes).
 * The string to sign is "Name\nValue\n" for a fixed list of fields per message type (Subject only
 * when present); SignatureVersion 1 signs it with SHA1withRSA, 2 with SHA256withRSA.
 */
import { createPrivateKey, createSign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const CERT_PREFIX = '/_aws/sns/';
export const CERT_PATH = `${CERT_PREFIX}SimpleNotificationService-opsbox.pem`;

const NOTIFICATION_FIELDS = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'];
const CONFIRMATION_FIELDS = ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];

/** SNS's canonical string for a message document. */
export function stringToSign(doc: Record<string, unknown>): string {
  const fields = doc.Type === 'Notification' ? NOTIFICATION_FIELDS : CONFIRMATION_FIELDS;
  let out = '';
  for (const f of fields) if (doc[f] !== undefined) out += `${f}\n${doc[f]}\n`;
  return out;
}

export interface KeyMaterial {
  key: string;
  cert: string;
}

export class Signer {
  private material?: Promise<KeyMaterial>;
  /** The parsed private key: parsing the PEM costs more than signing. */
  private privateKey?: Promise<KeyObject>;

  constructor(private dataDir: string) {}

  /** The key pair and certificate, made and saved on first use. */
  keys(): Promise<KeyMaterial> {
    this.material ??= this.load();
    return this.material;
  }

  private async load(): Promise<KeyMaterial> {
    const dir = join(this.dataDir, 'sns');
    const keyFile = join(dir, 'signing-key.pem');
    const certFile = join(dir, 'signing-cert.pem');
    if (existsSync(keyFile) && existsSync(certFile)) return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
    const now = new Date();
    // imported here: loading the certificate library costs ~140 ms, too much for every start
    const { generate } = await import('selfsigned');
    const pems = await generate(
      [
        { name: 'commonName', value: 'sns.amazonaws.com' },
        { name: 'organizationName', value: 'opsbox' },
      ],
      {
        keySize: 2048,
        algorithm: 'sha256',
        notBeforeDate: new Date(now.getTime() - 86_400_000),
        notAfterDate: new Date(now.getTime() + 10 * 365 * 86_400_000),
      },
    );
    mkdirSync(dir, { recursive: true });
    // write then rename, so a crash never leaves a key without its certificate
    writeFileSync(`${keyFile}.tmp`, pems.private, { mode: 0o600 });
    writeFileSync(`${certFile}.tmp`, pems.cert);
    renameSync(`${keyFile}.tmp`, keyFile);
    renameSync(`${certFile}.tmp`, certFile);
    return { key: pems.private, cert: pems.cert };
  }

  /** Base64 signature of the document's canonical string. */
  async sign(doc: Record<string, unknown>, version: string): Promise<string> {
    this.privateKey ??= this.keys().then(({ key }) => createPrivateKey(key));
    const key = await this.privateKey;
    const s = createSign(version === '2' ? 'RSA-SHA256' : 'RSA-SHA1');
    s.update(stringToSign(doc), 'utf8');
    return s.sign(key, 'base64');
  }
}
