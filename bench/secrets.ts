/**
 * Configuration reads as a build or task makes them: SSM GetParameter and Secrets Manager
 * GetSecretValue (json1.1, SigV4), each on a value created first through the same API.
 */
import type { Call } from './callScenario.js';
import { callOnce } from './callScenario.js';
import type { RawResponse } from './rawHttp.js';
import { jsonRequest } from './sigv4.js';
import type { Target } from './targets.js';

const created = (r: RawResponse) => r.status === 200 || r.body.includes('AlreadyExists') || r.body.includes('ResourceExists');
const PARAMETER = '/bench/db/host';
const SECRET = 'bench/api-key';

export const getParameterCall: Call = {
  section: 'SSM GetParameter (json1.1, SigV4)',
  name: 'ssm',
  async setup(t: Target) {
    await callOnce(
      t,
      jsonRequest(t, 'ssm', 'AmazonSSM.PutParameter', { Name: PARAMETER, Value: 'db.local', Type: 'String', Overwrite: true }),
      created,
    );
  },
  request: (t) => jsonRequest(t, 'ssm', 'AmazonSSM.GetParameter', { Name: PARAMETER }),
  ok: (r) => r.status === 200 && r.body.includes('db.local'),
};

export const getSecretValueCall: Call = {
  section: 'Secrets Manager GetSecretValue (json1.1, SigV4)',
  name: 'secretsmanager',
  async setup(t: Target) {
    await callOnce(
      t,
      jsonRequest(t, 'secretsmanager', 'secretsmanager.CreateSecret', { Name: SECRET, SecretString: '{"key":"abc"}' }),
      created,
    );
  },
  request: (t) => jsonRequest(t, 'secretsmanager', 'secretsmanager.GetSecretValue', { SecretId: SECRET }),
  ok: (r) => r.status === 200 && r.body.includes('SecretString'),
};
