// The voter's device crypto, as ballot/FORMAT.md specifies it: voter codes,
// credential keys, credential signatures and encrypted ballots over
// ristretto255. The Go side (package ballot) and this file are held to the
// same vectors in ballot/testdata.
import { RistrettoPoint, ed25519 } from '@noble/curves/ed25519';
import { expand_message_xmd } from '@noble/curves/abstract/hash-to-curve';
import { sha256 } from '@noble/hashes/sha256';
import { sha512 } from '@noble/hashes/sha512';
import { bytesToHex, hexToBytes, randomBytes } from '@noble/hashes/utils';

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

// ——— Ballots (FORMAT.md, "Encrypted ballot (version 2)") ———

const BALLOT_MAGIC = utf8.encode('PVB2');
const CHALLENGE_DST = 'primaryvote-v1-challenge';
const OPTION_SUM = 0xffff;
const KEY_WINDOW = 4;

/** randomScalar draws a uniformly random non-zero scalar. */
function randomScalar() {
  for (;;) {
    const s = leToBigInt(randomBytes(64)) % L;
    if (s !== 0n) return s;
  }
}

const mod = (n) => ((n % L) + L) % L;

/** mulG is n·G for any scalar n, zero included. */
function mulG(n) {
  n = mod(n);
  return n === 0n ? RistrettoPoint.ZERO : G.multiply(n);
}

/** mulPoint is n·Q for any scalar n (in constant time for a non-zero n). */
function mulPoint(Q, n) {
  n = mod(n);
  return n === 0n ? RistrettoPoint.ZERO : Q.multiply(n);
}

function u16(n) {
  return new Uint8Array([(n >> 8) & 0xff, n & 0xff]);
}

// keys caches each election key decoded with its table of multiples, made
// once per page: the first ballot pays for it, a second (after "change")
// does not.
const keys = new Map();

/** electionKey decodes the election's public key and precomputes its multiples. */
function electionKey(election) {
  if (!election || typeof election.public_key !== 'string') throw new Error('the election has no public key');
  let key = keys.get(election.public_key);
  if (key === undefined) {
    const bytes = hexToBytes(election.public_key);
    const K = RistrettoPoint.fromBytes(bytes);
    if (K.is0()) throw new Error('the election key is the identity');
    key = { K: K.precompute(KEY_WINDOW, false), bytes };
    if (keys.size > 4) keys.clear();
    keys.set(election.public_key, key);
  }
  return key;
}

/**
 * rangeChallenge is the Fiat–Shamir challenge of a range proof: T =
 * lp(domain) ‖ lp(election id) ‖ K ‖ P ‖ u16(question) ‖ u16(option) ‖
 * u16(lo) ‖ u16(hi) ‖ α ‖ β ‖ a_0 ‖ b_0 ‖ …
 */
function rangeChallenge(ctx, ct, lo, hi, branches) {
  return hashToScalar(
    concat(
      lp('primaryvote/v2/range-proof'), lp(ctx.electionId), ctx.key.bytes, ctx.credential,
      u16(ctx.question), u16(ctx.option), u16(lo), u16(hi), ct.bytes,
      ...branches.map((br) => br.ab),
    ),
    CHALLENGE_DST,
  );
}

function ciphertext(alpha, beta) {
  return { alpha, beta, bytes: concat(alpha.toBytes(), beta.toBytes()) };
}

/**
 * sumCiphertext is a question's total (Σα, Σβ): what its proof hashes is
 * not the total's encoding but the candidates' ciphertexts it sums, each
 * α ‖ β, in order (FORMAT.md, "Range proof").
 */
function sumCiphertext(alpha, beta, ciphertexts) {
  return { alpha, beta, bytes: concat(...ciphertexts) };
}

/** proveRange proves that ct, made with randomness r, encrypts m ∈ [lo, hi]. */
function proveRange(ctx, ct, r, m, lo, hi, rnd) {
  if (m < lo || m > hi) throw new Error(`a question's total ${m} is outside [${lo}, ${hi}]`);
  const { K } = ctx.key;
  const branches = [];
  let w = 0n;
  let others = 0n;
  for (let v = lo; v <= hi; v++) {
    if (v === m) {
      w = rnd();
      branches.push(commitments(mulG(w), mulPoint(K, w)));
      continue;
    }
    const c = rnd();
    const z = rnd();
    const t = mod(z - c * r);
    const cm = mod(c * BigInt(m - v));
    branches.push({ ...commitments(mulG(t), mulPoint(K, t).subtract(mulG(cm))), c, z });
    others = mod(others + c);
  }
  const honest = branches[m - lo];
  honest.c = mod(rangeChallenge(ctx, ct, lo, hi, branches) - others);
  honest.z = mod(w + honest.c * r);
  return branches;
}

/** commitments is a branch's (a, b) with their encoding a ‖ b, made once. */
function commitments(a, b) {
  return { a, b, ab: concat(a.toBytes(), b.toBytes()) };
}

function encodeProof(branches) {
  return concat(...branches.map((br) => concat(br.ab, scalarBytes(br.c), scalarBytes(br.z))));
}

/** checkSelections refuses choices the election's questions do not allow. */
function checkSelections(election, selections) {
  const known = new Set(election.questions.map((q) => q.id));
  for (const id of Object.keys(selections || {})) {
    if (!known.has(id)) throw new Error(`no question "${id}"`);
  }
  for (const q of election.questions) {
    const chosen = (selections && selections[q.id]) || [];
    const ids = new Set(q.candidates.map((c) => c.id));
    if (new Set(chosen).size !== chosen.length) throw new Error(`question "${q.id}": a candidate is chosen twice`);
    for (const c of chosen) if (!ids.has(c)) throw new Error(`question "${q.id}": no candidate "${c}"`);
    if (chosen.length < q.min_selections || chosen.length > q.max_selections) {
      throw new Error(`question "${q.id}": choose ${q.min_selections} to ${q.max_selections}`);
    }
  }
}

/**
 * sealBallot makes the bytes of a ballot up to its signature: the
 * selections ({question id: [candidate id, …]}) encrypted under the
 * election's key, every ciphertext and total proved, every proof bound to
 * the public credential P (32 bytes). It needs P only, not the credential's
 * secret, so that a checker can make a revealed copy again. rnd draws every
 * scalar in FORMAT.md's order.
 */
export function sealBallot(election, publicKey, selections, rnd) {
  checkSelections(election, selections);
  const key = electionKey(election);
  const id = utf8.encode(election.id);
  if (id.length > 255) throw new Error('the election id is too long');
  const parts = [BALLOT_MAGIC, new Uint8Array([id.length]), id, publicKey];
  election.questions.forEach((q, qi) => {
    const chosen = new Set(selections[q.id] || []);
    let alpha = RistrettoPoint.ZERO;
    let beta = RistrettoPoint.ZERO;
    let total = 0n;
    const statement = [];
    q.candidates.forEach((cand, oi) => {
      const m = chosen.has(cand.id) ? 1 : 0;
      const r = rnd();
      const a = mulG(r);
      let b = mulPoint(key.K, r);
      if (m === 1) b = b.add(G);
      const ct = ciphertext(a, b);
      alpha = alpha.add(a);
      beta = beta.add(b);
      statement.push(ct.bytes);
      total = mod(total + r);
      const ctx = { electionId: election.id, key, credential: publicKey, question: qi, option: oi };
      parts.push(ct.bytes, encodeProof(proveRange(ctx, ct, r, m, 0, 1, rnd)));
    });
    const ctx = { electionId: election.id, key, credential: publicKey, question: qi, option: OPTION_SUM };
    parts.push(encodeProof(proveRange(ctx, sumCiphertext(alpha, beta, statement), total, chosen.size, q.min_selections, q.max_selections, rnd)));
  });
  return concat(...parts);
}

/**
 * encryptBallot encrypts the voter's selections under the election's key,
 * proves every ciphertext and total, binds every proof to the voter's
 * credential and signs the ballot with it. It returns the ballot's bytes.
 * rnd and random are the randomness (given only by tests): every scalar in
 * FORMAT.md's order, and the signature's hedging bytes.
 */
export function encryptBallot(election, credential, selections, rnd = randomScalar, random = randomBytes(32)) {
  const signed = sealBallot(election, credential.publicKey, selections, rnd);
  return withHints(election, concat(signed, sign(credential, 'ballot', signed, random)));
}

// ——— Decoding hints (FORMAT.md, "Decoding hints") ———

const Fp = ed25519.CURVE.Fp;
const D = ed25519.CURVE.d;

/**
 * hintInput is t = −(d·(1 − s²)² + (1 + s²)²)·(1 + s²)² for an element's
 * encoding s: decoding s needs 1/√t.
 */
function hintInput(enc) {
  const s = leToBigInt(enc);
  const s2 = Fp.sqr(s);
  const yDen2 = Fp.sqr(Fp.add(1n, s2));
  const xDen2 = Fp.neg(Fp.add(Fp.mul(D, Fp.sqr(Fp.sub(1n, s2))), yDen2));
  return Fp.mul(xDen2, yDen2);
}

/**
 * elementHint is the hint of an element's encoding: 1/√t, non-negative
 * (even), from noble's SQRT_RATIO_M1(1, t), one exponentiation.
 */
function elementHint(enc) {
  const { isValid, value } = ed25519.CURVE.uvRatio(1n, hintInput(enc));
  if (!isValid) throw new Error('an element of the ballot does not decode');
  return scalarBytes(value);
}

/** hintHolds reports whether hint is an element's hint: canonical, even, and t·hint² = 1. */
function hintHolds(enc, hint) {
  const h = leToBigInt(hint);
  return h < Fp.ORDER && (h & 1n) === 0n && Fp.mul(Fp.sqr(h), hintInput(enc)) === 1n;
}

/**
 * elementOffsets is where each element of a ballot for the election starts,
 * in order: P; for each candidate α, β and its proof's a_0, b_0, a_1, b_1;
 * each question total's a_t, b_t; and the signature's R. Their hints follow
 * the signature in the same order.
 */
function elementOffsets(election) {
  let o = 4 + 1 + utf8.encode(election.id).length;
  const offs = [o];
  o += 32;
  const branches = (n) => {
    for (let k = 0; k < n; k++) {
      offs.push(o, o + 32);
      o += 128;
    }
  };
  for (const q of election.questions) {
    for (let i = 0; i < q.candidates.length; i++) {
      offs.push(o, o + 32);
      o += 64;
      branches(2);
    }
    branches(q.max_selections - q.min_selections + 1);
  }
  offs.push(o);
  return offs;
}

/** withHints appends to a ballot's signed bytes and signature the hint of each of its elements. */
function withHints(election, signedAndSignature) {
  return concat(signedAndSignature, ...elementOffsets(election).map((o) => elementHint(signedAndSignature.subarray(o, o + 32))));
}

// ——— Checking a copy (FORMAT.md, "Checking a copy") ———

const SEED_DST = 'primaryvote-v2-ballot-randomness';
const REVEALED_MAGIC = utf8.encode('PVR2');

/** seedScalar is the i-th scalar a copy made from seed draws. */
export function seedScalar(seed, i) {
  const n = new Uint8Array(4);
  new DataView(n.buffer).setUint32(0, i);
  return hashToScalar(concat(lp('primaryvote/v2/ballot-randomness'), seed, n), SEED_DST);
}

/** seededScalars draws a copy's scalars from its seed, in order. */
export function seededScalars(seed) {
  let i = 0;
  return () => seedScalar(seed, i++);
}

function base64url(bytes) {
  return base64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const b = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

/**
 * makeCopy makes one copy of the voter's ballot from a fresh seed: the body
 * of its cast, its tracking code, and what revealing it needs. The page
 * shows the tracking code, then casts the copy or reveals it (revealCopy).
 */
export function makeCopy(election, credential, selections, seed = randomBytes(32), random = randomBytes(32)) {
  if (!credential || !(credential.publicKey instanceof Uint8Array)) throw new Error('no credential');
  const ballot = encryptBallot(election, credential, selections, seededScalars(seed), random);
  return { body: { encrypted: base64(ballot) }, trackingCode: trackingCode(ballot), ballot, seed, selections };
}

/**
 * revealCopy is the revealed copy's text (FORMAT.md): the election, the
 * credential, the seed, the choices by index, and the copy's signature.
 */
export function revealCopy(election, copy) {
  const id = utf8.encode(election.id);
  const parts = [REVEALED_MAGIC, new Uint8Array([id.length]), id, copy.ballot.subarray(5 + id.length, 5 + id.length + 32), copy.seed];
  for (const q of election.questions) {
    const chosen = new Set(copy.selections[q.id] || []);
    const idx = [];
    q.candidates.forEach((c, i) => { if (chosen.has(c.id)) idx.push(i); });
    parts.push(new Uint8Array([idx.length, ...idx]));
  }
  const signed = signedSize(election);
  parts.push(copy.ballot.subarray(signed, signed + 64));
  return base64url(concat(...parts));
}

/**
 * parseRevealed reads a revealed copy's text, ignoring white space. It
 * returns {electionId, publicKey, seed, choices, signature}, or throws
 * saying why it is not one.
 */
export function parseRevealed(text) {
  const bytes = typeof text === 'string' && text.length <= 16384 ? fromBase64url(text.replace(/\s+/g, '')) : null;
  if (bytes === null) throw new Error('this is not the text of a checked ballot copy');
  const magic = bytesToHex(REVEALED_MAGIC);
  if (bytes.length < 5 || bytesToHex(bytes.subarray(0, 4)) !== magic) throw new Error('this is not the text of a checked ballot copy');
  let o = 4;
  const take = (n) => {
    if (o + n > bytes.length) throw new Error('the checked copy\'s text is cut short');
    return bytes.subarray(o, (o += n));
  };
  const electionId = new TextDecoder('utf-8', { fatal: true }).decode(take(take(1)[0]));
  const publicKey = take(32);
  const seed = take(32);
  const choices = [];
  while (bytes.length - o > 64) choices.push(Array.from(take(take(1)[0])));
  if (bytes.length - o !== 64) throw new Error('the checked copy\'s text is cut short');
  return { electionId, publicKey, seed, choices, signature: take(64) };
}

/**
 * remakeCopy makes a revealed copy again for the election (the same
 * election, with its key, as the page had): from its seed, credential and
 * stated choices, with its signature put back, and checks every proof and
 * the signature. It returns {ballot, trackingCode, selections} and throws
 * if the copy is not exactly what the credential signed. So the choices it
 * returns are what the copy with that tracking code encrypts.
 */
export function remakeCopy(election, revealed) {
  if (revealed.electionId !== election.id) throw new Error(`the copy is for election "${revealed.electionId}", not "${election.id}"`);
  if (revealed.choices.length !== election.questions.length) throw new Error('the copy does not answer the election\'s questions');
  const selections = {};
  election.questions.forEach((q, qi) => {
    const idx = revealed.choices[qi];
    idx.forEach((i, k) => {
      if (i >= q.candidates.length || (k > 0 && i <= idx[k - 1])) throw new Error(`question "${q.id}": the stated choices are not candidates in order`);
    });
    selections[q.id] = idx.map((i) => q.candidates[i].id);
  });
  const signed = sealBallot(election, revealed.publicKey, selections, seededScalars(revealed.seed));
  let ballot;
  try {
    ballot = withHints(election, concat(signed, revealed.signature));
  } catch {
    throw new Error('the copy is not what its credential signed: its signature does not decode');
  }
  const why = verifyBallot(election, ballot);
  if (why !== null) throw new Error(`the copy is not what its credential signed: ${why}`);
  return { ballot, trackingCode: trackingCode(ballot), selections };
}

/**
 * prepare makes the tables encryption uses (the election key's multiples,
 * and the generator's), so that the page can do this while the voter reads
 * the ballot and encrypt at once on "next".
 */
export function prepare(election) {
  electionKey(election);
  mulG(1n);
}

/** signedSize is the length of a ballot's bytes before its signature. */
export function signedSize(election) {
  let n = 4 + 1 + utf8.encode(election.id).length + 32;
  for (const q of election.questions) {
    n += q.candidates.length * (64 + 2 * 128) + (q.max_selections - q.min_selections + 1) * 128;
  }
  return n;
}

/** ballotSize is the exact length of a ballot for the election: signed part, signature, hints. */
export function ballotSize(election) {
  return signedSize(election) + 64 + 32 * elementOffsets(election).length;
}

/**
 * verifyBallot checks a ballot's every proof and its signature, equation
 * by equation, for the election: the page's own check of what it made, and
 * the one an independent checker runs. It returns null if it verifies and
 * otherwise says what fails.
 */
export function verifyBallot(election, bytes) {
  let key;
  try {
    key = electionKey(election);
  } catch (e) {
    return e.message;
  }
  if (!(bytes instanceof Uint8Array) || bytes.length !== ballotSize(election)) return 'the ballot has the wrong length';
  const id = utf8.encode(election.id);
  const head = concat(BALLOT_MAGIC, new Uint8Array([id.length]), id);
  if (bytesToHex(bytes.subarray(0, head.length)) !== bytesToHex(head)) return `not a version 2 ballot for election "${election.id}"`;
  let o = head.length;
  const take = (n) => bytes.subarray(o, (o += n));
  const point = (b) => RistrettoPoint.fromBytes(b);
  const scalar = (b) => {
    const s = leToBigInt(b);
    if (s >= L) throw new Error('non-canonical scalar');
    return s;
  };
  const credential = take(32);
  const checkRange = (ctx, ct, lo, hi, raw) => {
    const branches = [];
    for (let k = 0; k <= hi - lo; k++) {
      const b = raw.subarray(k * 128, (k + 1) * 128);
      branches.push({ a: point(b.subarray(0, 32)), b: point(b.subarray(32, 64)), ab: b.subarray(0, 64), c: scalar(b.subarray(64, 96)), z: scalar(b.subarray(96)) });
    }
    let total = 0n;
    for (let k = 0; k < branches.length; k++) {
      const br = branches[k];
      const v = lo + k;
      if (!G.multiplyUnsafe(br.z).equals(br.a.add(ct.alpha.multiplyUnsafe(br.c)))) return false;
      const shifted = v === 0 ? ct.beta : ct.beta.subtract(G.multiplyUnsafe(BigInt(v)));
      if (!key.K.multiplyUnsafe(br.z).equals(br.b.add(shifted.multiplyUnsafe(br.c)))) return false;
      total = mod(total + br.c);
    }
    return total === rangeChallenge(ctx, ct, lo, hi, branches);
  };
  try {
    if (point(credential).is0()) return 'the credential is the identity';
    for (const [qi, q] of election.questions.entries()) {
      let alpha = RistrettoPoint.ZERO;
      let beta = RistrettoPoint.ZERO;
      const statement = [];
      for (const [oi, cand] of q.candidates.entries()) {
        const enc = take(64);
        const ct = { alpha: point(enc.subarray(0, 32)), beta: point(enc.subarray(32)), bytes: enc };
        alpha = alpha.add(ct.alpha);
        beta = beta.add(ct.beta);
        statement.push(enc);
        const ctx = { electionId: election.id, key, credential, question: qi, option: oi };
        if (!checkRange(ctx, ct, 0, 1, take(256))) return `question "${q.id}", candidate "${cand.id}": the proof that it encrypts 0 or 1 does not verify`;
      }
      const ctx = { electionId: election.id, key, credential, question: qi, option: OPTION_SUM };
      const L2 = q.max_selections - q.min_selections + 1;
      if (!checkRange(ctx, sumCiphertext(alpha, beta, statement), q.min_selections, q.max_selections, take(L2 * 128))) {
        return `question "${q.id}": the proof that ${q.min_selections} to ${q.max_selections} candidates are chosen does not verify`;
      }
    }
  } catch {
    return 'the ballot has a non-canonical encoding';
  }
  const signed = bytes.subarray(0, o);
  if (!verifySignature(credential, 'ballot', signed, bytes.subarray(o, o + 64))) return 'its signature does not verify under the credential it names';
  const hints = bytes.subarray(o + 64);
  const bad = elementOffsets(election).findIndex((at, j) => !hintHolds(bytes.subarray(at, at + 32), hints.subarray(32 * j, 32 * j + 32)));
  if (bad >= 0) return `element ${bad} of the ballot has the wrong decoding hint`;
  return null;
}

const TRACKING_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** trackingCode is the ballot's tracking code: SHA-256 in Crockford base32, in groups of four. */
export function trackingCode(bytes) {
  const h = sha256(bytes);
  let bits = 0;
  let acc = 0;
  let s = '';
  for (const byte of h) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      s += TRACKING_ALPHABET[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) s += TRACKING_ALPHABET[(acc << (5 - bits)) & 31];
  return s.match(/.{1,4}/g).join('-');
}

// ——— The log (audit/LOG.md): checkpoints and inclusion proofs ———

const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const strictB64 = (s) => {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) throw new Error('not base64');
  return b64(s);
};

/**
 * openCheckpoint checks a signed checkpoint (a C2SP signed note) against
 * the log's verifier key, `<name>+<key hash>+<base64 of 0x01 ‖ Ed25519
 * key>`, and returns {origin, size, root}. It throws saying why if the key
 * is malformed, no signature line is by that key, or the signature or the
 * checkpoint's text is wrong.
 */
export function openCheckpoint(signedNote, verifierKey) {
  const k = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(verifierKey || '');
  if (!k) throw new Error('the log key is malformed');
  const [, name, hashHex] = k;
  const key = strictB64(k[3]);
  if (key.length !== 33 || key[0] !== 1) throw new Error('the log key is not an Ed25519 note key');
  const keyHash = sha256(concat(utf8.encode(name + '\n'), key)).subarray(0, 4);
  if (bytesToHex(keyHash) !== hashHex) throw new Error('the log key\'s hash does not match the key');
  const split = signedNote.lastIndexOf('\n\n');
  if (split < 0) throw new Error('the checkpoint is not a signed note');
  const text = signedNote.slice(0, split + 1);
  let signed = false;
  for (const line of signedNote.slice(split + 2).split('\n')) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const sig = strictB64(m[2]);
    if (sig.length !== 68 || bytesToHex(sig.subarray(0, 4)) !== hashHex) continue;
    if (!ed25519.verify(sig.subarray(4), utf8.encode(text), key.subarray(1))) throw new Error('the checkpoint\'s signature by the log key does not verify');
    signed = true;
  }
  if (!signed) throw new Error('the checkpoint has no signature by the log key');
  const lines = text.split('\n');
  const size = Number(lines[1]);
  if (lines.length < 4 || !/^(0|[1-9][0-9]*)$/.test(lines[1]) || !Number.isSafeInteger(size)) throw new Error('the checkpoint\'s size is malformed');
  const root = strictB64(lines[2]);
  if (root.length !== 32) throw new Error('the checkpoint\'s root is malformed');
  return { origin: lines[0], size, root };
}

const nodeHash = (l, r) => sha256(concat(new Uint8Array([1]), l, r));

/**
 * checkInclusion checks an RFC 6962 inclusion proof (hashes in base64,
 * from the leaf up) that record is leaf index of the tree of size whose
 * root is root.
 */
export function checkInclusion(proof, size, root, index, record) {
  if (!(index >= 0 && index < size)) return false;
  let fn = BigInt(index);
  let sn = BigInt(size - 1);
  let r = sha256(concat(new Uint8Array([0]), record));
  for (const p of proof) {
    const h = strictB64(p);
    if (h.length !== 32 || sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(h, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = nodeHash(r, h);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && bytesToHex(r) === bytesToHex(root);
}

/**
 * checkCosignatures returns the names of the policy's witnesses whose
 * cosignatures (C2SP tlog-cosignature, cosignature/v1 with Ed25519) on the
 * signed checkpoint verify, in the policy's order; signatures by other keys
 * are ignored. It throws if a witness key is malformed, or if a line by one
 * of the policy's witnesses does not verify. Check the log's signature with
 * openCheckpoint first.
 */
export function checkCosignatures(signedNote, policy) {
  const split = signedNote.lastIndexOf('\n\n');
  if (split < 0) throw new Error('the checkpoint is not a signed note');
  const text = utf8.encode(signedNote.slice(0, split + 1));
  const witnesses = (policy.witnesses || []).map((w) => {
    const k = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(w.key || '');
    if (!k) throw new Error('a witness key is malformed');
    const key = strictB64(k[3]);
    if (key.length !== 33 || key[0] !== 4) throw new Error(`${k[1]}'s key is not a cosignature/v1 key`);
    if (bytesToHex(sha256(concat(utf8.encode(k[1] + '\n'), key)).subarray(0, 4)) !== k[2]) throw new Error(`${k[1]}'s key hash does not match the key`);
    return { name: k[1], hash: k[2], key: key.subarray(1) };
  });
  const found = new Set();
  for (const line of signedNote.slice(split + 2).split('\n')) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) continue;
    const w = witnesses.find((x) => x.name === m[1]);
    if (!w) continue;
    const sig = strictB64(m[2]);
    if (sig.length < 4 || bytesToHex(sig.subarray(0, 4)) !== w.hash) continue;
    let time = 0n;
    for (const b of sig.subarray(4, 12)) time = (time << 8n) | BigInt(b);
    const msg = concat(utf8.encode(`cosignature/v1\ntime ${time}\n`), text);
    if (sig.length !== 76 || time === 0n || !ed25519.verify(sig.subarray(12), msg, w.key)) throw new Error(`the cosignature by ${w.name} does not verify`);
    found.add(w.name);
  }
  return witnesses.map((w) => w.name).filter((n) => found.has(n));
}
