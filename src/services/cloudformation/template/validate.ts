/**
 * Static checks of a parsed template, with AWS's ValidateTemplate messages: the top-level sections,
 * every resource's Type, references to names that do not exist (in Resources and Outputs), GetAtt of
 * undefined resources, unknown conditions, circular dependencies. `summarize()` gives what
 * ValidateTemplate / GetTemplateSummary answer (parameters, capabilities, resource types).
 */
import { AwsError } from '../../../core/errors.js';
import { dependencies, dependsOnList, order, referencedNames } from './graph.js';
import { isParameterType } from './parameters.js';
import { formatError, type Template } from './parse.js';

const SECTIONS = new Set([
  'AWSTemplateFormatVersion',
  'Description',
  'Metadata',
  'Parameters',
  'Rules',
  'Mappings',
  'Conditions',
  'Transform',
  'Resources',
  'Outputs',
  'Hooks',
]);

const PSEUDO = new Set([
  'AWS::AccountId',
  'AWS::Region',
  'AWS::StackName',
  'AWS::StackId',
  'AWS::Partition',
  'AWS::URLSuffix',
  'AWS::NotificationARNs',
  'AWS::NoValue',
]);

/** Resource types whose creation needs CAPABILITY_IAM (CAPABILITY_NAMED_IAM when they carry a name). */
const IAM_TYPES: Record<string, string | undefined> = {
  'AWS::IAM::Role': 'RoleName',
  'AWS::IAM::Policy': undefined,
  'AWS::IAM::ManagedPolicy': 'ManagedPolicyName',
  'AWS::IAM::User': 'UserName',
  'AWS::IAM::Group': 'GroupName',
  'AWS::IAM::InstanceProfile': 'InstanceProfileName',
  'AWS::IAM::AccessKey': undefined,
  'AWS::IAM::UserToGroupAddition': undefined,
};

const RESOURCE_TYPE = /^(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+|Custom::[\w@.-]{1,60}|[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+(::MODULE)?)$/;

function findGetAtts(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => findGetAtts(v, out));
  else if (typeof value === 'object' && value) {
    const obj = value as Record<string, any>;
    const g = obj['Fn::GetAtt'];
    if (g !== undefined && Object.keys(obj).length === 1) {
      const name = typeof g === 'string' ? g.split('.')[0] : Array.isArray(g) ? g[0] : undefined;
      if (typeof name === 'string') out.push(name);
    }
    for (const v of Object.values(obj)) findGetAtts(v, out);
  }
  return out;
}

function findIfConditions(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => findIfConditions(v, out));
  else if (typeof value === 'object' && value) {
    const obj = value as Record<string, any>;
    const f = obj['Fn::If'];
    if (Array.isArray(f) && typeof f[0] === 'string' && Object.keys(obj).length === 1) out.push(f[0]);
    if (typeof obj.Condition === 'string' && Object.keys(obj).length === 1) out.push(obj.Condition);
    for (const v of Object.values(obj)) findIfConditions(v, out);
  }
  return out;
}

/** Throws the ValidationError AWS gives for the first problem found. */
export function validateTemplate(t: Template) {
  const extra = Object.keys(t).filter((k) => !SECTIONS.has(k));
  if (extra.length) throw formatError(`Invalid template property or properties [${extra.join(', ')}]`);
  if (t.AWSTemplateFormatVersion !== undefined && String(t.AWSTemplateFormatVersion) !== '2010-09-09')
    throw formatError(`'${t.AWSTemplateFormatVersion}' is not a supported version`);
  if (typeof t.Resources !== 'object' || t.Resources === null || !Object.keys(t.Resources).length)
    throw formatError('At least one Resources member must be defined.');
  const params = t.Parameters ?? {};
  for (const [k, p] of Object.entries(params)) {
    if (typeof p !== 'object' || !p || typeof p.Type !== 'string')
      throw formatError(`[/Parameters/${k}] Every Parameters object must contain a Type member.`);
    if (!isParameterType(p.Type)) throw formatError(`Unrecognized parameter type: ${p.Type}`);
  }
  for (const [k, m] of Object.entries(t.Mappings ?? {})) {
    if (typeof m !== 'object' || !m || Array.isArray(m)) throw formatError(`Every Mappings member ${k} must be a map`);
    for (const [k2, v] of Object.entries(m))
      if (typeof v !== 'object' || !v || Array.isArray(v)) throw formatError(`Every Mappings attribute must be a map; ${k}.${k2} is not`);
  }
  const conditions = t.Conditions ?? {};
  for (const [k, c] of Object.entries(conditions)) {
    const bad = [...referencedNames(c)].filter((n) => !(n in params) && !PSEUDO.has(n));
    if (bad.length)
      throw formatError(`Unresolved dependencies [${bad.join(', ')}]. Cannot reference resources in the Conditions block of the template`);
    void k;
  }
  const resources = t.Resources;
  const known = (n: string) => n in resources || n in params || PSEUDO.has(n);
  const unresolved = new Set<string>();
  for (const [id, r] of Object.entries(resources)) {
    if (typeof r !== 'object' || !r || typeof r.Type !== 'string')
      throw formatError(`[/Resources/${id}] Every Resources object must contain a Type member.`);
    if (r.Properties !== undefined && (typeof r.Properties !== 'object' || Array.isArray(r.Properties) || r.Properties === null))
      throw formatError(`[/Resources/${id}/Properties] Every Properties member must be an object`);
    for (const n of referencedNames(r.Properties)) if (!known(n)) unresolved.add(n);
    for (const n of dependsOnList(r.DependsOn)) if (!(n in resources)) unresolved.add(n);
    for (const g of findGetAtts(r.Properties))
      if (!(g in resources))
        throw new AwsError('ValidationError', `Template error: instance of Fn::GetAtt references undefined resource ${g}`, 400);
    if (r.Condition !== undefined && !(r.Condition in conditions))
      throw formatError(`Unresolved dependencies [${r.Condition}]. Cannot reference resources in the Conditions block of the template`);
    for (const c of findIfConditions(r.Properties))
      if (!(c in conditions)) throw new AwsError('ValidationError', `Template error: unresolved condition dependency ${c} in Fn::If`, 400);
  }
  if (unresolved.size)
    throw formatError(`Unresolved resource dependencies [${[...unresolved].join(', ')}] in the Resources block of the template`);
  const badTypes = Object.values(resources)
    .map((r) => r.Type)
    .filter((ty) => !RESOURCE_TYPE.test(ty));
  if (badTypes.length) throw formatError(`Unrecognized resource types: [${[...new Set(badTypes)].join(', ')}]`);
  for (const [id, o] of Object.entries(t.Outputs ?? {})) {
    if (typeof o !== 'object' || !o || !('Value' in o))
      throw formatError(`Every Outputs member must contain a Value object, the Outputs member [${id}] is missing it`);
    const bad = [...referencedNames(o)].filter((n) => !known(n));
    if (bad.length) throw formatError(`Unresolved resource dependencies [${bad.join(', ')}] in the Outputs block of the template`);
    for (const g of findGetAtts(o))
      if (!(g in resources))
        throw new AwsError('ValidationError', `Template error: instance of Fn::GetAtt references undefined resource ${g}`, 400);
  }
  order(dependencies(t));
}

/** The capabilities the template needs and why (InsufficientCapabilities' wording). */
export function requiredCapabilities(t: Template): { capabilities: string[]; reason?: string } {
  const iam: string[] = [];
  let named = false;
  for (const [id, r] of Object.entries(t.Resources ?? {})) {
    if (!(r.Type in IAM_TYPES)) continue;
    iam.push(id);
    const nameProp = IAM_TYPES[r.Type];
    if (nameProp && r.Properties && nameProp in r.Properties) named = true;
  }
  const transforms = t.Transform === undefined ? [] : Array.isArray(t.Transform) ? t.Transform : [t.Transform];
  const caps = iam.length ? [named ? 'CAPABILITY_NAMED_IAM' : 'CAPABILITY_IAM'] : [];
  if (transforms.length) caps.push('CAPABILITY_AUTO_EXPAND');
  return {
    capabilities: caps,
    reason: iam.length
      ? `The following resource(s) require capabilities: [${[...new Set(iam.map((id) => t.Resources[id].Type))].join(', ')}]`
      : undefined,
  };
}

/** ValidateTemplate / GetTemplateSummary's shape. */
export function summarize(t: Template) {
  const caps = requiredCapabilities(t);
  return {
    Parameters: Object.entries(t.Parameters ?? {}).map(([k, p]) => ({
      ParameterKey: k,
      DefaultValue: p.Default === undefined ? undefined : Array.isArray(p.Default) ? p.Default.join(',') : String(p.Default),
      NoEcho: p.NoEcho === true || p.NoEcho === 'true',
      Description: p.Description,
      ParameterType: p.Type,
      ParameterConstraints: p.AllowedValues ? { AllowedValues: p.AllowedValues.map(String) } : undefined,
    })),
    Description: t.Description,
    Capabilities: caps.capabilities,
    CapabilitiesReason: caps.reason,
    ResourceTypes: [...new Set(Object.values(t.Resources).map((r) => r.Type))],
    DeclaredTransforms: t.Transform === undefined ? [] : Array.isArray(t.Transform) ? t.Transform.map(String) : [String(t.Transform)],
    ResourceIdentifierSummaries: [],
    Metadata: t.Metadata === undefined ? undefined : JSON.stringify(t.Metadata),
    Version: t.AWSTemplateFormatVersion === undefined ? undefined : String(t.AWSTemplateFormatVersion),
  };
}
