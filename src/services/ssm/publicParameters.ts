/**
 * The public parameters AWS answers for every account, answered offline: opsbox serves the
 * global-infrastructure region list (/aws/service/global-infrastructure/regions/<code>, value the
 * code). The list is static public data: the commercial (aws partition) Regions, as botocore's
 * partitions.json lists them; update it here when AWS opens a Region.
 */
import { underPath } from './names.js';

export const COMMERCIAL_REGIONS = [
  'af-south-1',
  'ap-east-1',
  'ap-east-2',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-northeast-3',
  'ap-south-1',
  'ap-south-2',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
  'ap-southeast-4',
  'ap-southeast-5',
  'ap-southeast-6',
  'ap-southeast-7',
  'ca-central-1',
  'ca-west-1',
  'eu-central-1',
  'eu-central-2',
  'eu-north-1',
  'eu-south-1',
  'eu-south-2',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'il-central-1',
  'me-central-1',
  'me-south-1',
  'mx-central-1',
  'sa-east-1',
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
];

export interface PublicParameter {
  name: string;
  value: string;
}

const REGIONS_PATH = '/aws/service/global-infrastructure/regions';

/** Every public parameter, in name order. */
export const PUBLIC_PARAMETERS: readonly PublicParameter[] = COMMERCIAL_REGIONS.map((code) => ({
  name: `${REGIONS_PATH}/${code}`,
  value: code,
})).sort((a, b) => (a.name < b.name ? -1 : 1));

/** When the public parameters opsbox serves were last changed (their LastModifiedDate). */
export const PUBLIC_MODIFIED = Date.parse('2025-09-01T00:00:00Z');

export const findPublic = (name: string) => PUBLIC_PARAMETERS.find((p) => p.name === name);

/** The public parameters under a path prefix (names.pathPrefix), after the cursor `after`. */
export const publicUnder = (prefix: string, recursive: boolean, after: string) =>
  PUBLIC_PARAMETERS.filter((p) => p.name > after && underPath(p.name, prefix, recursive));
