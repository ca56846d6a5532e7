// Checked copies and the log's proofs, against the vectors the Go side makes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils';
import {
  deriveCredential, encryptBallot, seededScalars, seedScalar, scalarBytes, trackingCode, makeCopy, revealCopy,
  parseRevealed, remakeCopy, openCheckpoint, checkInclusion,
} from '../src/crypto.js';

const read = (path) => JSON.parse(readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8'));
const checked = read('ballot/testdata/checked.json');
const logs = read('audit/record/testdata/inclusion.json');

test('copies made from a seed are byte for byte the Go ones, and reveal to the same text', () => {
  assert.ok(checked.length > 0);
  for (const v of checked) {
    const seed = hexToBytes(v.seed);
    v.first_scalars.forEach((s, i) => assert.equal(bytesToHex(scalarBytes(seedScalar(seed, i))), s));
    const credential = deriveCredential(v.election.id, v.code);
    const ballot = encryptBallot(v.election, credential, v.selections, seededScalars(seed), hexToBytes(v.random));
    assert.equal(bytesToHex(ballot), v.ballot);
    assert.equal(trackingCode(ballot), v.tracking_code);
    const copy = makeCopy(v.election, credential, v.selections, seed, hexToBytes(v.random));
    assert.equal(revealCopy(v.election, copy), v.revealed);
  }
});

test('a revealed copy is made again, and shows what it encrypts', () => {
  for (const v of checked) {
    const got = remakeCopy(v.election, parseRevealed(v.revealed));
    assert.equal(bytesToHex(got.ballot), v.ballot);
    assert.equal(got.trackingCode, v.tracking_code);
    for (const q of v.election.questions) assert.deepEqual(got.selections[q.id], v.selections[q.id] || [], q.id);
  }
  // Across lines, as pasted.
  const v = checked[0];
  assert.equal(remakeCopy(v.election, parseRevealed(v.revealed.slice(0, 40) + '\n  ' + v.revealed.slice(40))).trackingCode, v.tracking_code);
});

test('a copy whose stated choices are not the ones it encrypts is refused', () => {
  const v = checked[0];
  const alter = (f) => {
    const r = parseRevealed(v.revealed);
    f(r);
    return () => remakeCopy(v.election, r);
  };
  // A page that encrypted one candidate and says it was another.
  assert.throws(alter((r) => { r.choices[0] = [0]; }), /not what its credential signed/);
  assert.throws(alter((r) => { r.seed = r.seed.slice(); r.seed[3] ^= 1; }), /not what its credential signed/);
  assert.throws(alter((r) => { r.signature = r.signature.slice(); r.signature[40] ^= 1; }), /not what its credential signed/);
  assert.throws(alter((r) => { r.publicKey = deriveCredential(v.election.id, 'ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ').publicKey; }), /not what its credential signed/);
  assert.throws(alter((r) => { r.electionId = 'other'; }), /for election "other"/);
  assert.throws(alter((r) => { r.choices[1] = [2, 1]; }), /not candidates in order/);
  assert.throws(alter((r) => { r.choices[0] = [7]; }), /not candidates in order/);
  assert.throws(alter((r) => { r.choices.pop(); }), /questions/);
  for (const bad of ['', 'not base64!', 'UFZCMg', v.revealed.slice(0, -8), v.revealed.slice(0, 12), 'A'.repeat(20000)]) {
    assert.throws(() => parseRevealed(bad), /checked ballot copy|cut short/, bad.slice(0, 20));
  }
});

test('fresh copies differ, and each reveals and remakes', () => {
  const v = checked[2];
  const credential = deriveCredential(v.election.id, v.code);
  const a = makeCopy(v.election, credential, v.selections);
  const b = makeCopy(v.election, credential, v.selections);
  assert.notEqual(a.trackingCode, b.trackingCode);
  assert.equal(remakeCopy(v.election, parseRevealed(revealCopy(v.election, a))).trackingCode, a.trackingCode);
});

test('checkpoints and inclusion proofs the Go log makes verify, and altered ones do not', () => {
  assert.ok(logs.length > 0);
  for (const v of logs) {
    const c = openCheckpoint(v.checkpoint, v.verifier_key);
    assert.equal(c.size, v.records.length);
    for (const p of v.proofs) {
      const rec = Uint8Array.from(atob(v.records[p.index]), (x) => x.charCodeAt(0));
      assert.ok(checkInclusion(p.inclusion_proof, c.size, c.root, p.index, rec), `record ${p.index} of ${c.size}`);
      const other = rec.slice();
      other[other.length - 1] ^= 1;
      assert.ok(!checkInclusion(p.inclusion_proof, c.size, c.root, p.index, other));
      if (c.size > 1) {
        assert.ok(!checkInclusion(p.inclusion_proof, c.size, c.root, (p.index + 1) % c.size, rec));
        assert.ok(!checkInclusion(p.inclusion_proof.slice(1), c.size, c.root, p.index, rec));
      }
    }
  }
  const v = logs.at(-1);
  assert.throws(() => openCheckpoint(v.checkpoint.replace('\n13\n', '\n12\n'), v.verifier_key), /signature/);
  assert.throws(() => openCheckpoint(v.checkpoint, v.verifier_key.replace('test-log', 'other-log')), /hash/);
  assert.throws(() => openCheckpoint(v.checkpoint, 'nonsense'), /malformed/);
  const [name, hash] = v.verifier_key.split('+');
  const otherKey = `${name}+${hash}+AWPPmep5V6yXB+FsakvdeYcDSqJm3uC2iyB+H0DUn2oE`;
  assert.throws(() => openCheckpoint(v.checkpoint, otherKey));
});
