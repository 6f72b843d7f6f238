/**
 * Signing keys in cosign's formats: `cosign.key` is a PEM block of type `ENCRYPTED SIGSTORE
 * PRIVATE KEY` (older cosign: `ENCRYPTED COSIGN PRIVATE KEY`) holding JSON — scrypt key derivation
 * and a NaCl secretbox (XSalsa20-Poly1305) around the PKCS#8 DER of the private key — and
 * `cosign.pub` is a PKIX `PUBLIC KEY` PEM block. ECDSA (P-256, P-384, P-521) and RSA keys sign and
 * verify; docs/compatibility.md ("Signing") lists what differs from cosign.
 * @module
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  scrypt,
  sign as cryptoSign,
  verify as cryptoVerify,
} from "node:crypto";
import { xsalsa20poly1305 } from "@noble/ciphers/salsa.js";
import fsp from "node:fs/promises";
import { decodeBase64, encodeBase64 } from "../util/base64.ts";
import path from "node:path";
import { KitError } from "../util/errors.ts";
import { errnoCode, pathExists } from "../util/fs.ts";

/** cosign's current PEM type for an encrypted private key. */
export const SIGSTORE_PRIVATE_KEY_PEM = "ENCRYPTED SIGSTORE PRIVATE KEY";
/** The PEM type older cosign releases wrote (still accepted). */
export const COSIGN_PRIVATE_KEY_PEM = "ENCRYPTED COSIGN PRIVATE KEY";
const PUBLIC_KEY_PEM = "PUBLIC KEY";

/**
 * The scrypt parameter sets go-securesystemslib accepts when decrypting (its Legacy, Standard and
 * OWASP strengths); anything else is refused before any work, so a crafted key file cannot make
 * kit spend unbounded memory. Keys are written with the first (what cosign's `generate-key-pair`
 * has written since its first release, and every version decrypts).
 */
const SCRYPT_PARAMS: ReadonlyArray<{ N: number; r: number; p: number }> = [
  { N: 32768, r: 8, p: 1 },
  { N: 65536, r: 8, p: 1 },
  { N: 131072, r: 8, p: 1 },
];
const SALT_BYTES = 32;
const NONCE_BYTES = 24;
const BOX_KEY_BYTES = 32;
/** Largest key file read (a 4096-bit RSA key is under 4 KiB). */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

/** A key file that cannot be used: bad PEM, wrong type, unsupported algorithm, wrong password. */
export class KeyError extends KitError {
  override name = "KeyError";
}

/** A private key ready to sign, with its public half. */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** A public key that signatures are checked against. */
export interface VerificationKey {
  /** Where it came from (a file name), for messages. */
  name: string;
  key: KeyObject;
  /** `sha256:<hex>` of the key's PKIX DER: what messages show to tell keys apart. */
  fingerprint: string;
}

/** One PEM block. */
export interface PemBlock {
  type: string;
  der: Uint8Array;
}

const PEM_RE = /-----BEGIN ([A-Z0-9][A-Z0-9 ]*)-----\r?\n([\s\S]*?)-----END \1-----/;

/** The first PEM block in `text` (Go's `pem.Decode`); headers inside the block are not supported. */
export function decodePem(text: string): PemBlock | undefined {
  const m = PEM_RE.exec(text);
  if (!m) return undefined;
  const body = m[2]!.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) return undefined;
  return { type: m[1]!, der: fromBase64(body) };
}

/** Go's `pem.EncodeToMemory`: base64 in lines of 64 characters. */
export function encodePem(type: string, der: Uint8Array): string {
  const b64 = encodeBase64(der);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${type}-----\n${lines.join("\n")}${lines.length ? "\n" : ""}-----END ${type}-----\n`;
}

/** Standard base64 with padding (Go's `base64.StdEncoding`); throws KeyError on anything else. */
export function fromBase64(s: string): Uint8Array {
  const out = decodeBase64(s);
  if (!out) throw new KeyError("invalid base64 data");
  return out;
}

/** Parses UTF-8 JSON bytes from outside; a KitError names `what` when they are not JSON. */
export function parseJsonBytes(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new KitError(`${what} is not JSON: ${(e as Error).message}`);
  }
}

function scryptKey(password: Uint8Array, salt: Uint8Array, p: { N: number; r: number; p: number }): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    // 128·N·r bytes: 128 MiB for the largest accepted N.
    scrypt(password, salt, BOX_KEY_BYTES, { N: p.N, r: p.r, p: p.p, maxmem: 256 * 1024 * 1024 }, (err, key) => {
      if (err) reject(err);
      else resolve(new Uint8Array(key));
    });
  });
}

/**
 * go-securesystemslib's `encrypted.Encrypt`: the JSON document cosign stores inside the PEM
 * block, byte for byte as Go's `json.Marshal` writes it.
 */
export async function encryptKeyMaterial(plaintext: Uint8Array, password: Uint8Array): Promise<Uint8Array> {
  const params = SCRYPT_PARAMS[0]!;
  const salt = new Uint8Array(randomBytes(SALT_BYTES));
  const nonce = new Uint8Array(randomBytes(NONCE_BYTES));
  const key = await scryptKey(password, salt, params);
  const ciphertext = xsalsa20poly1305(key, nonce).encrypt(plaintext);
  const json = `{"kdf":{"name":"scrypt","params":{"N":${params.N},"r":${params.r},"p":${params.p}},"salt":"${encodeBase64(salt)}"},` +
    `"cipher":{"name":"nacl/secretbox","nonce":"${encodeBase64(nonce)}"},"ciphertext":"${encodeBase64(ciphertext)}"}`;
  return new TextEncoder().encode(json);
}

/** go-securesystemslib's `encrypted.Decrypt`, with its checks: known KDF, cipher and parameters. */
export async function decryptKeyMaterial(data: Uint8Array, password: Uint8Array): Promise<Uint8Array> {
  let doc: unknown;
  try {
    doc = parseJsonBytes(data, "the encrypted key");
  } catch (e) {
    throw new KeyError((e as Error).message);
  }
  const o = doc as { kdf?: { name?: unknown; params?: { N?: unknown; r?: unknown; p?: unknown }; salt?: unknown }; cipher?: { name?: unknown; nonce?: unknown }; ciphertext?: unknown } | null;
  if (!o || typeof o !== "object") throw new KeyError("the encrypted key is not a JSON object");
  if (o.kdf?.name !== "scrypt") throw new KeyError(`unknown kdf name ${JSON.stringify(o.kdf?.name)}`);
  if (o.cipher?.name !== "nacl/secretbox") throw new KeyError(`unknown cipher name ${JSON.stringify(o.cipher?.name)}`);
  const pr = o.kdf.params;
  const params = SCRYPT_PARAMS.find((s) => pr?.N === s.N && pr?.r === s.r && pr?.p === s.p);
  if (!params) throw new KeyError(`unsupported scrypt parameters ${JSON.stringify(pr ?? null)}`);
  if (typeof o.kdf.salt !== "string" || typeof o.cipher.nonce !== "string" || typeof o.ciphertext !== "string") {
    throw new KeyError("the encrypted key lacks its salt, nonce or ciphertext");
  }
  const salt = fromBase64(o.kdf.salt);
  const nonce = fromBase64(o.cipher.nonce);
  const ciphertext = fromBase64(o.ciphertext);
  if (nonce.length !== NONCE_BYTES) throw new KeyError("incorrect nonce size");
  const key = await scryptKey(password, salt, params);
  try {
    return xsalsa20poly1305(key, nonce).decrypt(ciphertext);
  } catch {
    throw new KeyError("decryption failed: wrong password, or the key file was changed");
  }
}

/** A new ECDSA P-256 key pair as cosign's `generate-key-pair` writes it: the two PEM files' text. */
export async function generateKeyPair(password: Uint8Array): Promise<{ privatePem: string; publicPem: string }> {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pkcs8 = new Uint8Array(privateKey.export({ type: "pkcs8", format: "der" }));
  const encrypted = await encryptKeyMaterial(pkcs8, password);
  return { privatePem: encodePem(SIGSTORE_PRIVATE_KEY_PEM, encrypted), publicPem: publicKeyPem(publicKey) };
}

/** The PKIX `PUBLIC KEY` PEM of a key (what `cosign.pub` holds). */
export function publicKeyPem(key: KeyObject): string {
  return encodePem(PUBLIC_KEY_PEM, new Uint8Array(key.export({ type: "spki", format: "der" })));
}

function checkAlgorithm(key: KeyObject, what: string): void {
  const t = key.asymmetricKeyType;
  if (t === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === "prime256v1" || curve === "secp384r1" || curve === "secp521r1") return;
    throw new KeyError(`${what}: ECDSA curve ${curve ?? "unknown"} is not supported (P-256, P-384 or P-521)`);
  }
  if (t === "rsa") {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits >= 2048 && bits <= 4096) return;
    throw new KeyError(`${what}: RSA key size ${bits} is not supported (2048 to 4096 bits)`);
  }
  throw new KeyError(`${what}: ${t ?? "unknown"} keys are not supported (ECDSA or RSA)`, {
    hint: "Generate a key pair with: kit key generate",
  });
}

/**
 * Decrypts a cosign private key file (`ENCRYPTED SIGSTORE PRIVATE KEY` or `ENCRYPTED COSIGN
 * PRIVATE KEY`) with `password`.
 */
export async function loadPrivateKey(pemText: string, password: Uint8Array, name = "private key"): Promise<SigningKey> {
  const block = decodePem(pemText);
  if (!block) throw new KeyError(`${name}: not a PEM file`);
  if (block.type !== SIGSTORE_PRIVATE_KEY_PEM && block.type !== COSIGN_PRIVATE_KEY_PEM) {
    throw new KeyError(`${name}: unsupported PEM type ${JSON.stringify(block.type)} (expected ${SIGSTORE_PRIVATE_KEY_PEM})`, {
      hint: "kit signs with a cosign key pair: create one with kit key generate (or cosign generate-key-pair / import-key-pair)",
    });
  }
  let der: Uint8Array;
  try {
    der = await decryptKeyMaterial(block.der, password);
  } catch (e) {
    throw new KeyError(`${name}: ${(e as Error).message}`, { cause: e, hint: "Check the password (KIT_PASSWORD)" });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  } catch (e) {
    throw new KeyError(`${name}: parsing private key: ${(e as Error).message}`, { cause: e });
  }
  checkAlgorithm(privateKey, name);
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** Reads a PKIX `PUBLIC KEY` PEM (cosign.pub). */
export function loadPublicKey(pemText: string, name = "public key"): VerificationKey {
  const block = decodePem(pemText);
  if (!block) throw new KeyError(`${name}: not a PEM file`);
  if (block.type !== PUBLIC_KEY_PEM) {
    throw new KeyError(`${name}: unsupported PEM type ${JSON.stringify(block.type)} (expected PUBLIC KEY)`, {
      hint: "Verify with the public key (cosign.pub), not the private key",
    });
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: block.der, format: "der", type: "spki" });
  } catch (e) {
    throw new KeyError(`${name}: parsing public key: ${(e as Error).message}`, { cause: e });
  }
  checkAlgorithm(key, name);
  return { name, key, fingerprint: keyFingerprint(key) };
}

/** `sha256:<hex>` of the key's PKIX DER. */
export function keyFingerprint(key: KeyObject): string {
  const der = key.export({ type: "spki", format: "der" });
  return `sha256:${createHash("sha256").update(der).digest("hex")}`;
}

/** The hash sigstore pairs with a key: SHA-256, or SHA-384/512 for the larger curves. */
function defaultHash(key: KeyObject): string {
  if (key.asymmetricKeyType === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === "secp384r1") return "sha384";
    if (curve === "secp521r1") return "sha512";
  }
  return "sha256";
}

/** Signs `data` (ECDSA signatures in ASN.1 DER, RSA PKCS #1 v1.5), as cosign's signers do. */
export function signBytes(key: SigningKey, data: Uint8Array): Uint8Array {
  return new Uint8Array(cryptoSign(defaultHash(key.privateKey), data, key.privateKey));
}

/**
 * True when `signature` is a valid signature of `data` by `key`. cosign verifies with SHA-256
 * whatever the key, so that is tried as well as the curve's own hash.
 */
export function verifyBytes(key: VerificationKey, data: Uint8Array, signature: Uint8Array): boolean {
  const hashes = [...new Set(["sha256", defaultHash(key.key)])];
  for (const h of hashes) {
    try {
      if (cryptoVerify(h, data, key.key, signature)) return true;
    } catch {
      // a malformed signature is simply not valid
    }
  }
  return false;
}

/**
 * `kit key generate`: writes `<prefix>.key` (0600, encrypted with the password `password()`
 * gives) and `<prefix>.pub`; refuses existing files unless `overwrite`.
 */
export async function writeKeyPair(
  prefix: string,
  cwd: string,
  overwrite: boolean,
  password: () => Promise<Uint8Array>,
): Promise<{ key: string; pub: string }> {
  const files = { key: path.resolve(cwd, `${prefix}.key`), pub: path.resolve(cwd, `${prefix}.pub`) };
  const exists = (f: string) => new KitError(`key file ${path.relative(cwd, f) || f} already exists`, { hint: "Use --overwrite to replace it" });
  if (!overwrite) {
    for (const f of Object.values(files)) if (await pathExists(f)) throw exists(f);
  }
  const { privatePem, publicPem } = await generateKeyPair(await password());
  try {
    await fsp.writeFile(files.key, privatePem, { mode: 0o600, flag: overwrite ? "w" : "wx" });
    await fsp.chmod(files.key, 0o600);
    await fsp.writeFile(files.pub, publicPem, { mode: 0o644, flag: overwrite ? "w" : "wx" });
  } catch (e) {
    if (errnoCode(e) === "EEXIST") throw exists((e as NodeJS.ErrnoException).path ?? files.key);
    throw e;
  }
  return files;
}
