/** Test-only fixtures shared by auth/*.test.ts: identity options, the docs/design/token.md §13 vector A, a role identity. Never imported by library code. */
import type { Identity, IdentityOptions } from '../auth/types.js';

/** The `identity.*` options most auth tests use (one STS region, EKS off); `over` changes single keys. */
export function testIdentityOptions(over: Partial<IdentityOptions> = {}): IdentityOptions {
  return {
    audience: 'rsproxy:prod',
    partition: 'aws',
    stsRegions: ['eu-west-1'],
    allowedAccounts: ['123456789012'],
    maxTokenAgeSeconds: 300,
    clockSkewSeconds: 60,
    allowRootAndFederated: false,
    acceptEksTokens: false,
    ...over,
  };
}

/** The instant the test vectors were minted at (2026-11-24T10:15:00Z). */
export const vectorNowMs = Date.UTC(2026, 10, 24, 10, 15, 0);
/** Signature of test vector A. */
export const vectorSig = 'a6b44196f1bb09db77b19538d13caa07a1430e155c7b2478048f4ff4adf63336';
/** Test vector A: long-term key, eu-west-1, minted at vectorNowMs. */
export const vectorA = `rsp1.eu-west-1.20261124T101500Z.AKIAIOSFODNN7EXAMPLE.${vectorSig}`;

/** A verified assumed-role identity: Analyst role, session alice. */
export const aliceIdentity: Identity = {
  partition: 'aws',
  accountId: '123456789012',
  canonicalArn: 'arn:aws:iam::123456789012:role/Analyst',
  arn: 'arn:aws:sts::123456789012:assumed-role/Analyst/alice',
  principalType: 'assumed-role',
  userId: 'AROAEXAMPLE:alice',
  roleName: 'Analyst',
  sessionName: 'alice',
  accessKeyId: 'ASIAEXAMPLEEXAMPLE12',
  stsRegion: 'eu-west-1',
};
