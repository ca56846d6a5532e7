// The /verify page's check of the witnesses' cosignatures, against a
// checkpoint Go cosigned (audit/cosign/testdata/cosigned.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { checkCosignatures, openCheckpoint } from '../src/crypto.js';

const v = JSON.parse(readFileSync(new URL('../../../audit/cosign/testdata/cosigned.json', import.meta.url), 'utf8'));

test('the cosigners are the ones Go finds, and only the policy\'s', () => {
  openCheckpoint(v.checkpoint, v.log_key);
  assert.deepEqual(checkCosignatures(v.checkpoint, v.policy), v.cosigners);
  const fewer = { ...v.policy, witnesses: v.policy.witnesses.slice(1) };
  assert.deepEqual(checkCosignatures(v.checkpoint, fewer), v.cosigners.slice(1));
  assert.deepEqual(checkCosignatures(v.checkpoint, { quorum: 1, witnesses: [] }), []);
});

test('a cosignature that does not verify is refused, naming its witness', () => {
  const lines = v.checkpoint.split('\n');
  const i = lines.findIndex((l) => l.startsWith('\u2014 camp-b'));
  const sig = lines[i].split(' ')[2];
  const flipped = sig.slice(0, 30) + (sig[30] === 'A' ? 'B' : 'A') + sig.slice(31);
  lines[i] = lines[i].replace(sig, flipped);
  assert.throws(() => checkCosignatures(lines.join('\n'), v.policy), /camp-b\.example\/witness does not verify/);
  // Over another checkpoint.
  assert.throws(() => checkCosignatures(v.checkpoint.replace('\n3\n', '\n4\n'), v.policy), /does not verify/);
  // A malformed or mislabelled key.
  const bad = { ...v.policy, witnesses: [{ key: 'nonsense', url: 'https://x' }] };
  assert.throws(() => checkCosignatures(v.checkpoint, bad), /malformed/);
  const renamed = { ...v.policy, witnesses: [{ ...v.policy.witnesses[0], key: v.policy.witnesses[0].key.replace('camp-a', 'camp-z') }] };
  assert.throws(() => checkCosignatures(v.checkpoint, renamed), /hash/);
});
