/** Checks that captured proxy logs hold no secret (docs/design/token.md §10, docs/design/architecture.md §7). */
import assert from 'node:assert/strict';

/** Secrets from `secrets` that appear in any captured log line (empty = clean). */
export function leakedSecrets(logs: readonly string[], secrets: Iterable<string>): string[] {
  const text = logs.join('\n');
  const leaked: string[] = [];
  for (const s of secrets) {
    if (s.length < 8) continue;
    // JSON escapes `/` only optionally; check both the raw and the JSON-escaped form.
    const escaped = JSON.stringify(s).slice(1, -1);
    if (text.includes(s) || text.includes(escaped)) leaked.push(`${s.slice(0, 6)}…(${s.length} chars)`);
  }
  return leaked;
}

/** Log records carrying a field named like a secret with a non-redacted value. */
export function secretFields(logs: readonly string[]): string[] {
  const bad: string[] = [];
  const names = /^(password|dbpassword|token|signature|sessiontoken|secretaccesskey|secret)$/i;
  const visit = (v: unknown, path: string): void => {
    if (v === null || typeof v !== 'object') return;
    for (const [k, child] of Object.entries(v)) {
      if (names.test(k) && typeof child === 'string' && child !== '[REDACTED]' && child !== '') bad.push(`${path}${k}`);
      visit(child, `${path}${k}.`);
    }
  };
  for (const line of logs) {
    try {
      visit(JSON.parse(line), '');
    } catch {
      bad.push(`non-JSON log line: ${line.slice(0, 60)}`);
    }
  }
  return bad;
}

/**
 * Asserts that `logs` leak none of `secrets` and carry no secret-named field, after proving on planted
 * lines that both detectors really catch a token (with its signature and session-token fields) and a
 * JSON-escaped password. `secrets` must hold at least one rsp1 token.
 */
export function assertLogsHoldNoSecrets(logs: readonly string[], secrets: ReadonlySet<string>): void {
  assert.deepEqual(leakedSecrets(logs, secrets), []);
  assert.deepEqual(secretFields(logs), []);
  const someToken = [...secrets].find((x) => x.startsWith('rsp1.'));
  assert.ok(someToken !== undefined, 'a token to plant');
  assert.ok(leakedSecrets([...logs, JSON.stringify({ event: 'x', note: `got ${someToken}` })], secrets).length >= 2);
  assert.equal(leakedSecrets([JSON.stringify({ p: 'a/b+c/d=e' })], ['a/b+c/d=e']).length, 1);
  assert.deepEqual(secretFields([JSON.stringify({ err: { password: 'hunter22' } })]), ['err.password']);
}
