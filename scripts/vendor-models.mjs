#!/usr/bin/env node
// Regenerates models/<service>-<version>.json from the botocore installed in this machine's Python:
// AWS's full service models (every constraint, error shape and shape name), documentation stripped.
// The runtime reads only the committed files; run this to take a newer botocore, then review the diff.
//   node scripts/vendor-models.mjs            (python3 must import botocore)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** botocore service name → API version opsbox serves (undefined: the newest botocore has). */
const SERVICES = {
  // served today
  sts: '2011-06-15',
  iam: '2010-05-08',
  s3: '2006-03-01',
  logs: '2014-03-28',
  cloudwatch: '2010-08-01',
  events: '2015-10-07',
  sns: '2010-03-31',
  codecommit: '2015-04-13',
  codebuild: '2016-10-06',
  codepipeline: '2015-07-09',
  // the next batch
  ecr: undefined,
  ecs: undefined,
  elbv2: undefined,
  ec2: undefined,
  'application-autoscaling': undefined,
  apprunner: undefined,
  lambda: undefined,
  ssm: undefined,
  secretsmanager: undefined,
  kms: undefined,
  codedeploy: undefined,
  cloudformation: undefined,
  appconfig: undefined,
  appconfigdata: undefined,
  xray: undefined,
  'ssm-incidents': undefined,
  'ssm-contacts': undefined,
};

const DROP = new Set(['documentation', 'documentationUrl', 'deprecatedMessage']);

function strip(value) {
  if (Array.isArray(value)) return value.map(strip);
  if (!value || typeof value !== 'object') return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) if (!DROP.has(k)) out[k] = strip(v);
  return out;
}

/** One operation or shape per line: diffs of a newer botocore show what changed, line by line. */
function render(model) {
  const section = (obj) =>
    Object.keys(obj)
      .sort()
      .map((k) => `    ${JSON.stringify(k)}: ${JSON.stringify(obj[k])}`)
      .join(',\n');
  return `{\n  "metadata": ${JSON.stringify(model.metadata)},\n  "operations": {\n${section(model.operations)}\n  },\n  "shapes": {\n${section(model.shapes)}\n  }\n}\n`;
}

const botocore = execFileSync(
  'python3',
  ['-c', 'import botocore, os; print(os.path.dirname(botocore.__file__)); print(botocore.__version__)'],
  { encoding: 'utf8' },
)
  .trim()
  .split('\n');
const [dataDir, version] = [join(botocore[0], 'data'), botocore[1]];
const outDir = new URL('../models/', import.meta.url).pathname;
mkdirSync(outDir, { recursive: true });
const index = {};
for (const [service, pinned] of Object.entries(SERVICES)) {
  const versions = readdirSync(join(dataDir, service))
    .filter((v) => existsSync(join(dataDir, service, v, 'service-2.json.gz')))
    .sort();
  const apiVersion = pinned ?? versions.at(-1);
  if (!versions.includes(apiVersion)) throw new Error(`botocore ${version} has no ${service} ${apiVersion} (has ${versions.join(', ')})`);
  const raw = JSON.parse(gunzipSync(readFileSync(join(dataDir, service, apiVersion, 'service-2.json.gz'))).toString('utf8'));
  const model = strip(raw);
  const file = `${service}-${apiVersion}.json`;
  writeFileSync(join(outDir, file), render(model));
  index[service] = { file, apiVersion, protocol: model.metadata.protocol, operations: Object.keys(model.operations).length };
}
writeFileSync(join(outDir, 'SOURCE.json'), JSON.stringify({ botocore: version, services: index }, null, 2) + '\n');
console.log(`models/: ${Object.keys(index).length} services from botocore ${version}`);
