/** The name rules of repositories and branches, as CodeCommit answers them (no git, no store). */
import { AwsError } from '../../core/errors.js';

/* AWS: InvalidRepositoryNameException "A specified repository name is not valid. This exception occurs
 * only when a specified repository name is not valid. Other exceptions occur when a required
 * repository parameter is missing, or when a specified repository does not exist." */
export function checkRepositoryName(name: string | undefined): string {
  if (!name) throw new AwsError('RepositoryNameRequiredException', 'A repository name is required, but was not specified.');
  if (name.length > 100 || !/^[\w.-]+$/.test(name) || name.toLowerCase().endsWith('.git') || name === '.' || name === '..')
    throw new AwsError(
      'InvalidRepositoryNameException',
      'The repository name is not valid. Repository names can be any valid combination of letters, numbers, periods, underscores, and dashes between 1 and 100 characters in length. Names are case sensitive. For more information, see Limits in the AWS CodeCommit User Guide.',
    );
  return name;
}

/** Git's ref-name rules (check-ref-format), without running git. */
export function checkBranchName(name: string | undefined): string {
  if (!name) throw new AwsError('BranchNameRequiredException', 'A branch name is required, but was not specified.');
  const bad =
    name.length > 256 ||
    name.startsWith('-') ||
    name.startsWith('/') ||
    name.endsWith('/') ||
    name.endsWith('.') ||
    name.endsWith('.lock') ||
    name === '@' ||
    // git check-ref-format refuses control characters, space and these punctuation marks
    // oxlint-disable-next-line no-control-regex
    /\.\.|\/\/|@\{|[\x00-\x20\x7f~^:?*[\\]/.test(name) ||
    name.split('/').some((p) => p.startsWith('.') || p.endsWith('.lock'));
  if (bad) throw new AwsError('InvalidBranchNameException', 'The specified reference name is not valid.');
  return name;
}
