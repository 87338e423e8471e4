/** Which AWS profile the default chain uses, whether it is an SSO profile, and what a user must run to fix its credentials. */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The profile the SDK resolves: the named one, else AWS_PROFILE, else `default`. */
export function effectiveProfile(profile: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (profile !== undefined && profile !== '') return profile;
  const fromEnv = env['AWS_PROFILE'];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : 'default';
}

/** The keys of one section (`[default]` or `[profile NAME]`) of an AWS config file's text, lower-cased. */
export function configSectionKeys(configText: string, profile: string): Set<string> {
  const keys = new Set<string>();
  const wanted = profile === 'default' ? ['default', 'profile default'] : [`profile ${profile}`];
  let isInSection = false;
  for (const rawLine of configText.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[\s*(.+?)\s*\]$/.exec(line);
    if (header !== null) {
      isInSection = wanted.includes((header[1] ?? '').replace(/\s+/g, ' '));
      continue;
    }
    const eq = line.indexOf('=');
    if (isInSection && eq > 0) keys.add(line.slice(0, eq).trim().toLowerCase());
  }
  return keys;
}

/** True when `profile` in the shared config file (AWS_CONFIG_FILE, else ~/.aws/config) is an IAM Identity Center (SSO) profile. */
export function isSsoProfile(profile: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const file = env['AWS_CONFIG_FILE'] ?? join(homedir(), '.aws', 'config');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  const keys = configSectionKeys(text, profile);
  return keys.has('sso_session') || keys.has('sso_start_url');
}

/** What the user should do when the credentials of `profile` are missing or expired. */
export function credentialsFix(profile: string, isSso: boolean): string {
  if (isSso) return `run "aws sso login --profile ${profile}", then connect again`;
  const flag = profile === 'default' ? '' : ` --profile ${profile}`;
  return `give profile ${profile} valid credentials ("aws configure${flag}", or "aws sso login${flag}" for an SSO profile, or the AWS_* environment variables), then connect again`;
}
