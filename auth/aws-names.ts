/** The shapes of AWS names that tokens, configs and commands share: one place for each pattern. */

/** An AWS region name as a token and the config may name it, e.g. `eu-west-1`, `us-gov-west-1`. */
export const regionPattern = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** `identity.audience`: what the signed x-rsproxy-audience header carries (unique per fleet). */
export const audiencePattern = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,99}$/;

/** A 12-digit AWS account id. */
export const accountIdPattern = /^\d{12}$/;

/** A canonical IAM role or user ARN, `*` globs allowed after the account (config `rules[].principal`). */
export const principalPattern = /^arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:(role|user)\/[\w+=,.@*/-]+$/;

/** An IAM role ARN, path allowed (config `rules[].assumeRole`). */
export const roleArnPattern = /^arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:role\/[\w+=,.@/-]+$/;

/** Whether `region` is shaped like an AWS region name. */
export function isRegion(region: string): boolean {
  return regionPattern.test(region);
}

/** Whether `account` is a 12-digit AWS account id. */
export function isAccountId(account: string): boolean {
  return accountIdPattern.test(account);
}
