// The voter's device crypto, as ballot/FORMAT.md specifies it: voter codes,
// credential keys and credential signatures over ristretto255. The Go side
// (package ballot) and this file are held to the same vectors in
// ballot/testdata.
import { RistrettoPoint } from '@noble/curves/ed25519';
import { expand_message_xmd } from '@noble/curves/abstract/hash-to-curve';
import { sha512 } from '@noble/hashes/sha512';
import { randomBytes } from '@noble/hashes/utils';

// L is the order of ristretto255.
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const G = RistrettoPoint.BASE;
const utf8 = new TextEncoder();

const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_SYMBOLS = 25;

/**
 * normalizeCode returns the canonical form of a typed voter code (25
 * symbols, upper case, no separators), or null if it cannot be one: spaces
 * and hyphens are dropped, case is ignored, O reads as 0 and I or L as 1.
 */
export function normalizeCode(typed) {
  if (typeof typed !== 'string' || typed.length > 64) return null;
  let out = '';
  for (let c of typed) {
    if (c === '-' || c === ' ') continue;
    c = c.toUpperCase();
    if (c === 'O') c = '0';
    if (c === 'I' || c === 'L') c = '1';
    if (!CODE_ALPHABET.includes(c) || c.length !== 1) return null;
    out += c;
  }
  return out.length === CODE_SYMBOLS ? out : null;
}

/** concat joins byte arrays. */
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
}

/** lp is u32(len(b)) ‖ b, of a string's UTF-8 bytes or of bytes. */
function lp(s) {
  const b = typeof s === 'string' ? utf8.encode(s) : s;
  const n = new Uint8Array(4);
  new DataView(n.buffer).setUint32(0, b.length);
  return concat(n, b);
}

function leToBigInt(b) {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
}

/** scalarBytes encodes a scalar as 32 bytes, little-endian. */
export function scalarBytes(n) {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/**
 * hashToScalar is RFC 9380 expand_message_xmd with SHA-512 to 64 bytes,
 * read little-endian and reduced mod L.
 */
export function hashToScalar(msg, dst) {
  return leToBigInt(expand_message_xmd(msg, utf8.encode(dst), 64, sha512)) % L;
}

/**
 * deriveCredential derives a voter's credential key from the election id
 * and the typed code: x = HashToScalar(lp(domain) ‖ lp(election) ‖ lp(code)),
 * P = x·G. It returns null for a string that is not a code.
 */
export function deriveCredential(electionId, typedCode) {
  const code = normalizeCode(typedCode);
  if (code === null) return null;
  const x = hashToScalar(
    concat(lp('primaryvote/v2/credential'), lp(electionId), lp(code)),
    'primaryvote-v2-credential',
  );
  return { x, publicKey: G.multiply(x).toBytes() };
}

function challenge(context, publicKey, R, message) {
  return hashToScalar(
    concat(lp('primaryvote/v2/signature'), lp(context), publicKey, R, lp(message)),
    'primaryvote-v2-signature',
  );
}

/**
 * sign signs message (bytes) for context with the credential: R ‖ s, 64
 * bytes. The nonce is hedged with 32 random bytes (given only by tests).
 */
export function sign(credential, context, message, random = randomBytes(32)) {
  const k = hashToScalar(
    concat(lp('primaryvote/v2/signature-nonce'), scalarBytes(credential.x), random, lp(context), lp(message)),
    'primaryvote-v2-signature-nonce',
  );
  const R = G.multiply(k).toBytes();
  const c = challenge(context, credential.publicKey, R, message);
  return concat(R, scalarBytes((k + c * credential.x) % L));
}

/** verifySignature checks a signature under a public credential. */
export function verifySignature(publicKey, context, message, signature) {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  let P, R;
  try {
    P = RistrettoPoint.fromHex(publicKey);
    R = RistrettoPoint.fromHex(signature.subarray(0, 32));
  } catch {
    return false;
  }
  const s = leToBigInt(signature.subarray(32));
  if (s >= L || P.is0()) return false;
  const c = challenge(context, publicKey, signature.subarray(0, 32), message);
  return G.multiplyUnsafe(s).equals(R.add(P.multiplyUnsafe(c)));
}

/**
 * signInStatement is what the device signs to sign in: lp(election id) ‖
 * lp(voter id) ‖ u64(milliseconds since the epoch).
 */
export function signInStatement(electionId, voterId, ms) {
  const t = new Uint8Array(8);
  new DataView(t.buffer).setBigUint64(0, BigInt(ms));
  return concat(lp(electionId), lp(voterId), t);
}

function base64(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/**
 * signInRequest is the body of a sign-in: the voter id, the time and the
 * signature of the statement by the code's credential; null if the code is
 * not a code.
 */
export function signInRequest(electionId, voterId, typedCode, ms = Date.now()) {
  const credential = deriveCredential(electionId, typedCode);
  if (credential === null) return null;
  const signature = sign(credential, 'sign-in', signInStatement(electionId, voterId, ms));
  return { voter_id: voterId, at: ms, signature: base64(signature) };
}
