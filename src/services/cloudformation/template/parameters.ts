/**
 * Parameters: the values a stack operation is given, checked against each declaration (type,
 * AllowedValues, AllowedPattern, lengths, numeric bounds) with AWS's messages, defaults applied,
 * AWS::SSM::Parameter::Value<…> types read through a lookup the caller supplies (ssm GetParameter),
 * and the pseudo parameters. NoEcho values are masked as "****" wherever a stack is described.
 */
import { AwsError } from '../../../core/errors.js';
import type { ParameterDecl, Template } from './parse.js';

const invalid = (msg: string) => new AwsError('ValidationError', msg, 400);

export interface GivenParameter {
  ParameterKey?: string;
  ParameterValue?: string;
  UsePreviousValue?: boolean;
  ResolvedValue?: string;
}

export interface ResolvedParameter {
  key: string;
  /** The value as given (an SSM parameter type's value is the parameter name). */
  value: string;
  /** For SSM parameter types: the value read from Parameter Store. */
  resolved?: string;
  noEcho: boolean;
}

export const SSM_TYPE = /^AWS::SSM::Parameter::Value<(.+)>$/;

/**
 * Checks `given` against the template's Parameters; `previous` supplies UsePreviousValue.
 * `ssmGet(name)` returns a Parameter Store value or undefined when it does not exist.
 */
export async function resolveParameters(
  template: Template,
  given: GivenParameter[] = [],
  previous: ResolvedParameter[] = [],
  ssmGet?: (name: string) => Promise<string | undefined>,
): Promise<ResolvedParameter[]> {
  const decls = template.Parameters ?? {};
  const byKey = new Map<string, GivenParameter>();
  for (const g of given) if (g.ParameterKey) byKey.set(g.ParameterKey, g);
  const unknown = [...byKey.keys()].filter((k) => !(k in decls));
  if (unknown.length) throw invalid(`Parameters: [${unknown.join(', ')}] do not exist in the template`);
  const missing: string[] = [];
  const out: ResolvedParameter[] = [];
  for (const [key, decl] of Object.entries(decls)) {
    const g = byKey.get(key);
    let value: string | undefined;
    if (g?.UsePreviousValue) {
      value = previous.find((p) => p.key === key)?.value;
      if (value === undefined)
        throw invalid(
          `Invalid input for parameter key ${key}. Cannot specify usePreviousValue as true for a parameter key not in the previous template`,
        );
    } else if (g?.ParameterValue !== undefined) value = g.ParameterValue;
    else if (decl.Default !== undefined) value = Array.isArray(decl.Default) ? decl.Default.join(',') : String(decl.Default);
    if (value === undefined) {
      missing.push(key);
      continue;
    }
    checkParameter(key, decl, value);
    const p: ResolvedParameter = { key, value, noEcho: decl.NoEcho === true || decl.NoEcho === 'true' };
    const ssm = SSM_TYPE.exec(decl.Type);
    if (ssm && ssmGet) {
      const v = await ssmGet(value);
      if (v === undefined) throw invalid(`Parameters: [${value}] cannot be found.`);
      p.resolved = v;
    }
    out.push(p);
  }
  if (missing.length) throw invalid(`Parameters: [${missing.join(', ')}] must have values`);
  return out;
}

const constraint = (decl: ParameterDecl, fallback: string) => decl.ConstraintDescription ?? fallback;

/** One parameter's value against its declaration (AWS's messages). */
export function checkParameter(key: string, decl: ParameterDecl, value: string) {
  const type = decl.Type;
  const isList = type.startsWith('List<') || type === 'CommaDelimitedList' || type.startsWith('AWS::SSM::Parameter::Value<List<');
  const values = isList ? value.split(',').map((s) => s.trim()) : [value];
  if (type === 'Number' || type === 'List<Number>') {
    for (const v of values) if (v === '' || !Number.isFinite(Number(v))) throw invalid(`Parameter '${key}' must be a number.`);
  }
  for (const v of values) {
    if (decl.AllowedValues && !decl.AllowedValues.map(String).includes(v)) throw invalid(`Parameter '${key}' must be one of AllowedValues`);
    if (decl.AllowedPattern !== undefined && !new RegExp(`^(?:${decl.AllowedPattern})$`).test(v))
      throw invalid(constraint(decl, `Parameter '${key}' must match pattern ${decl.AllowedPattern}`));
    if (decl.MinLength !== undefined && v.length < Number(decl.MinLength))
      throw invalid(constraint(decl, `Parameter '${key}' must contain at least ${decl.MinLength} characters`));
    if (decl.MaxLength !== undefined && v.length > Number(decl.MaxLength))
      throw invalid(constraint(decl, `Parameter '${key}' must contain at most ${decl.MaxLength} characters`));
    if (decl.MinValue !== undefined && Number(v) < Number(decl.MinValue))
      throw invalid(constraint(decl, `Parameter '${key}' must be a number not less than ${decl.MinValue}`));
    if (decl.MaxValue !== undefined && Number(v) > Number(decl.MaxValue))
      throw invalid(constraint(decl, `Parameter '${key}' must be a number not greater than ${decl.MaxValue}`));
  }
}

const PARAM_TYPES =
  /^(String|Number|List<Number>|CommaDelimitedList|AWS::SSM::Parameter::(Name|Value<.+>)|AWS::EC2::[\w:]+|List<AWS::EC2::[\w:]+>|AWS::Route53::HostedZone::Id|List<AWS::Route53::HostedZone::Id>)$/;

export function isParameterType(type: string) {
  return PARAM_TYPES.test(type);
}

/** Parameter values as Ref sees them: list types are arrays, SSM types their resolved value. */
export function refValues(template: Template, params: ResolvedParameter[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const p of params) {
    const type = template.Parameters?.[p.key]?.Type ?? 'String';
    const v = p.resolved ?? p.value;
    out[p.key] =
      type.startsWith('List<') || type === 'CommaDelimitedList' || /Value<(List<|CommaDelimitedList)/.test(type) ? v.split(',') : v;
  }
  return out;
}

export interface StackIdentity {
  account: string;
  region: string;
  stackName: string;
  stackId: string;
}

export function pseudoParameters(id: StackIdentity, notificationArns: string[] = []): Record<string, string | string[]> {
  return {
    'AWS::AccountId': id.account,
    'AWS::Region': id.region,
    'AWS::StackName': id.stackName,
    'AWS::StackId': id.stackId,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::NotificationARNs': notificationArns,
  };
}
