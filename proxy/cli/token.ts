/** `rsproxy token --audience AUD [--region R] [--profile P]`: print a token signed with the default AWS credential chain. */
import { mintTokenFromChain } from '../../auth/token-mint.js';
import { ExitCode, RuntimeError, UsageError } from '../errors/exit-codes.js';
import { specOf } from './command-specs.js';
import { parseCommand, stringValue } from './options.js';

/** Runs `rsproxy token`; prints only the token on stdout. */
export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(specOf('token'), argv);
  const audience = stringValue(args, 'audience') ?? '';
  const region = stringValue(args, 'region') ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (region === undefined || region === '') throw new UsageError('--region is required when AWS_REGION is not set');
  const profile = stringValue(args, 'profile');
  try {
    const token = await mintTokenFromChain(profile === undefined ? { audience, region } : { audience, region, profile });
    process.stdout.write(`${token}\n`);
    return ExitCode.Ok;
  } catch (err) {
    // The SDK's messages name the missing credential source; they never contain secrets.
    const msg = err instanceof Error ? err.message : String(err);
    throw new RuntimeError(`cannot sign a token: ${msg}`, { cause: err });
  }
}
