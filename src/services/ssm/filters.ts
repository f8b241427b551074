/**
 * DescribeParameters' and GetParametersByPath's filters: ParameterFilters (Key, Option, Values)
 * and the deprecated Filters (Name, Type, KeyId), checked with Parameter Store's errors and
 * compiled once into a predicate over a parameter's metadata. Pure: the handlers pass each
 * parameter's fields (and a way to read its tags and labels only when a filter needs them).
 */
import { AwsError } from '../../core/errors.js';
import type { TagMap } from '../../core/tags.js';
import type { ParametersFilter, ParameterStringFilter } from './api.generated.js';
import { canonical, INVALID_PATH_MESSAGE } from './names.js';

export interface FilterSubject {
  /** Canonical name ("/x" for x). */
  key: string;
  type: string;
  keyId: string | null;
  tier: string;
  dataType: string;
  tags(): TagMap;
  /** Every label on any version of the parameter. */
  labels(): string[];
}

export type Mode = 'describe' | 'path';
export type Predicate = (p: FilterSubject) => boolean;

const TYPES = ['String', 'StringList', 'SecureString'];
const TIERS = ['Standard', 'Advanced', 'Intelligent-Tiering'];

const filterKey = (message: string) => new AwsError('InvalidFilterKey', message, 400);
const filterOption = (message: string) => new AwsError('InvalidFilterOption', message, 400);
const filterValue = (message: string) => new AwsError('InvalidFilterValue', message, 400);

const optionOf = (f: ParameterStringFilter) => f.Option ?? (f.Key === 'Path' ? 'OneLevel' : 'Equals');

/** Checks ParameterFilters for one operation and returns the predicate every filter must pass. */
export function compileParameterFilters(filters: readonly ParameterStringFilter[] | undefined, mode: Mode): Predicate {
  const seen = new Set<string>();
  const tests: Predicate[] = [];
  for (const f of filters ?? []) {
    const key = f.Key;
    const option = optionOf(f);
    const values = f.Values ?? [];
    const isTag = key.startsWith('tag:');
    if (mode === 'describe' && key === 'Label')
      throw filterKey('The following filter key is not valid: Label. Valid filter keys include: [Path, Name, Type, KeyId, Tier].');
    if (mode === 'path' && (isTag || ['Name', 'Path', 'Tier', 'DataType'].includes(key)))
      throw filterKey(`The following filter key is not valid: ${key}. Valid filter keys include: [Type, KeyId].`);
    if (!isTag && values.length === 0) throw filterValue(`The following filter values are missing : null for filter key ${key}.`);
    if (seen.has(key))
      throw filterKey(
        `The following filter is duplicated in the request: ${key}. A request can contain only one occurrence of a specific filter.`,
      );
    seen.add(key);

    if (key === 'Path') {
      if (option !== 'Recursive' && option !== 'OneLevel')
        throw filterOption(`The following filter option is not valid: ${option}. Valid options include: [Recursive, OneLevel].`);
      for (const v of values) {
        if (/^\/(aws|ssm)/i.test(v))
          throw new AwsError(
            'ValidationException',
            'Filters for common parameters can\'t be prefixed with "aws" or "ssm" (case-insensitive). When using global parameters, please specify within a global namespace.',
            400,
          );
        if (v.includes('//') || !v.startsWith('/') || !/^[a-zA-Z0-9_.\-/]*$/.test(v))
          throw new AwsError('ValidationException', INVALID_PATH_MESSAGE, 400);
      }
      tests.push(pathTest(values, option === 'Recursive'));
      continue;
    }
    const allowed = key === 'Label' ? ['Equals'] : key === 'Name' ? ['BeginsWith', 'Contains', 'Equals'] : ['BeginsWith', 'Equals'];
    if (!allowed.includes(option))
      throw filterOption(`The following filter option is not valid: ${option}. Valid options include: [${allowed.join(', ')}].`);
    for (const [k, valid] of [
      ['Type', TYPES],
      ['Tier', TIERS],
    ] as const)
      if (key === k)
        for (const v of values)
          if (!valid.includes(v))
            throw filterOption(`The following filter value is not valid: ${v}. Valid values include: [${valid.join(', ')}].`);

    if (key === 'Label') {
      tests.push((p) => p.labels().some((l) => values.includes(l)));
    } else if (isTag) {
      const tagKey = key.slice(4);
      tests.push((p) => {
        const tags = p.tags();
        if (!Object.hasOwn(tags, tagKey)) return false;
        return values.length === 0 || compare(tags[tagKey], values, option);
      });
    } else if (key === 'Name') {
      const wanted = option === 'Contains' ? values : values.map(canonical);
      tests.push((p) => compare(p.key, wanted, option));
    } else {
      const field = { Type: 'type', KeyId: 'keyId', Tier: 'tier', DataType: 'dataType' }[key] as
        'type' | 'keyId' | 'tier' | 'dataType' | undefined;
      if (!field)
        throw filterKey(`The following filter key is not valid: ${key}. Valid filter keys include: [Path, Name, Type, KeyId, Tier].`);
      tests.push((p) => p[field] !== null && compare(p[field]!, values, option));
    }
  }
  return (p) => tests.every((t) => t(p));
}

/** The deprecated Filters of DescribeParameters: Name begins with, Type and KeyId equal, one of the values each. */
export function compileLegacyFilters(filters: readonly ParametersFilter[] | undefined): Predicate {
  const tests: Predicate[] = (filters ?? []).map((f) => {
    if (f.Key === 'Name') {
      const wanted = f.Values.map(canonical);
      return (p) => wanted.some((v) => p.key.startsWith(v));
    }
    if (f.Key === 'Type') return (p) => f.Values.includes(p.type);
    return (p) => p.keyId !== null && f.Values.includes(p.keyId);
  });
  return (p) => tests.every((t) => t(p));
}

function compare(actual: string, values: readonly string[], option: string) {
  if (option === 'BeginsWith') return values.some((v) => actual.startsWith(v));
  if (option === 'Contains') return values.some((v) => actual.includes(v));
  return values.includes(actual);
}

function pathTest(values: readonly string[], recursive: boolean): Predicate {
  const prefixes = values.map((v) => (v === '/' ? '/' : `/${v.replace(/^\/+|\/+$/g, '')}/`));
  return (p) =>
    prefixes.some(
      (prefix) => p.key.startsWith(prefix) && p.key.length > prefix.length && (recursive || !p.key.slice(prefix.length).includes('/')),
    );
}
