/** `rsproxy token --audience AUD [--region R] [--profile P]`: print a token signed with the default AWS credential chain. */
import { mintTokenFromChain } from '../../auth/token-mint.js';
import { parseCommandArgs, stringOption, UsageError } from './args.js';

/** Runs `rsproxy token`; prints only the token on stdout. */
export async function run(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, { audience: { type: 'string' }, region: { type: 'string' }, profile: { type: 'string' } });
  const audience = stringOption(args, 'audience', true);
  const region = stringOption(args, 'region') ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (region === undefined || region === '') throw new UsageError('--region is required when AWS_REGION is not set');
  const profile = stringOption(args, 'profile');
  try {
    const token = await mintTokenFromChain(profile === undefined ? { audience, region } : { audience, region, profile });
    process.stdout.write(`${token}\n`);
    return 0;
  } catch (err) {
    // The SDK's messages name the missing credential source; they never contain secrets.
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`rsproxy token: cannot sign a token: ${msg}\n`);
    return 2;
  }
}
