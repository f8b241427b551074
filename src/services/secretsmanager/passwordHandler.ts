/** GetRandomPassword: password.ts makes the password; this words its refusals as AWS does. */
import type { SecretsmanagerHandlers } from './api.generated.js';
import { invalidParameter } from './common.js';
import { PasswordError, randomPassword } from './password.js';

export function passwordHandlers(): SecretsmanagerHandlers {
  return {
    GetRandomPassword(input) {
      try {
        return { RandomPassword: randomPassword(input) };
      } catch (err) {
        if (!(err instanceof PasswordError)) throw err;
        throw invalidParameter(
          err.problem === 'tooShort'
            ? 'Password length is too short based on the required types.'
            : 'The password can contain no character: the options exclude every character type.',
        );
      }
    },
  };
}
