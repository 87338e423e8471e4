import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSectionKeys, credentialsFix, effectiveProfile, isSsoProfile } from './aws-profile.js';

test('effectiveProfile: the named profile, else AWS_PROFILE, else default', () => {
  assert.equal(effectiveProfile('corp', { AWS_PROFILE: 'x' }), 'corp');
  assert.equal(effectiveProfile(undefined, { AWS_PROFILE: 'x' }), 'x');
  assert.equal(effectiveProfile(undefined, {}), 'default');
});

test('configSectionKeys reads one profile section of an AWS config file', () => {
  const text = '[default]\nregion = eu-west-1\n\n[profile corp]\n# comment\nsso_session = corp\n[sso-session corp]\nsso_start_url = https://x\n';
  assert.deepEqual([...configSectionKeys(text, 'default')], ['region']);
  assert.deepEqual([...configSectionKeys(text, 'corp')], ['sso_session']);
  assert.deepEqual([...configSectionKeys(text, 'other')], []);
});

test('isSsoProfile: sso_session or sso_start_url in the profile; false when the file is missing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-aws-profile-'));
  try {
    const file = join(dir, 'config');
    writeFileSync(file, '[profile corp]\nsso_session = corp\n[profile legacy]\nsso_start_url = https://x\n[profile keys]\nregion = eu-west-1\n');
    const env = { AWS_CONFIG_FILE: file };
    assert.equal(isSsoProfile('corp', env), true);
    assert.equal(isSsoProfile('legacy', env), true);
    assert.equal(isSsoProfile('keys', env), false);
    assert.equal(isSsoProfile('corp', { AWS_CONFIG_FILE: join(dir, 'missing') }), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('credentialsFix: aws sso login for SSO profiles, aws configure otherwise', () => {
  assert.equal(credentialsFix('corp', true), 'run "aws sso login --profile corp", then connect again');
  assert.match(credentialsFix('default', false), /^give profile default valid credentials \("aws configure"/);
  assert.match(credentialsFix('dev', false), /"aws configure --profile dev"/);
});
