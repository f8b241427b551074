/**
 * Reading a template body: JSON when it parses as JSON, otherwise YAML with CloudFormation's
 * short-form tags (!Ref, !GetAtt, !Sub, …), each turned into its long form ({ "Fn::Sub": … }) so
 * everything after parsing sees one shape. Errors are AWS's "Template format error" wording.
 */
import { parse as parseYaml, type Tags } from 'yaml';
import { AwsError } from '../../../core/errors.js';

export type Template = {
  AWSTemplateFormatVersion?: string;
  Description?: string;
  Metadata?: Record<string, unknown>;
  Parameters?: Record<string, ParameterDecl>;
  Rules?: Record<string, unknown>;
  Mappings?: Record<string, Record<string, Record<string, unknown>>>;
  Conditions?: Record<string, unknown>;
  Transform?: unknown;
  Resources: Record<string, ResourceDecl>;
  Outputs?: Record<string, OutputDecl>;
};

export interface ParameterDecl {
  Type: string;
  Default?: unknown;
  AllowedValues?: unknown[];
  AllowedPattern?: string;
  MinLength?: number | string;
  MaxLength?: number | string;
  MinValue?: number | string;
  MaxValue?: number | string;
  NoEcho?: boolean | string;
  Description?: string;
  ConstraintDescription?: string;
}

export interface ResourceDecl {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Metadata?: unknown;
  CreationPolicy?: unknown;
  UpdatePolicy?: unknown;
}

export interface OutputDecl {
  Value: unknown;
  Description?: string;
  Condition?: string;
  Export?: { Name: unknown };
}

export const formatError = (msg: string) => new AwsError('ValidationError', `Template format error: ${msg}`, 400);

const FUNCTIONS = [
  'Base64',
  'Cidr',
  'FindInMap',
  'GetAZs',
  'ImportValue',
  'Join',
  'Select',
  'Split',
  'Sub',
  'Transform',
  'And',
  'Equals',
  'If',
  'Not',
  'Or',
  'Length',
  'ToJsonString',
];

function shortTags(): Tags {
  const tags: Tags = [
    { tag: '!Ref', resolve: (s: string) => ({ Ref: s }) },
    { tag: '!Condition', resolve: (s: string) => ({ Condition: s }) },
    { tag: '!GetAtt', resolve: (s: string) => ({ 'Fn::GetAtt': splitGetAtt(s) }) },
    { tag: '!GetAtt', collection: 'seq', resolve: (s: any) => ({ 'Fn::GetAtt': s.toJSON() }) },
  ] as Tags;
  for (const fn of FUNCTIONS) {
    const key = `Fn::${fn}`;
    tags.push(
      { tag: `!${fn}`, resolve: (s: string) => ({ [key]: s }) } as any,
      { tag: `!${fn}`, collection: 'seq', resolve: (s: any) => ({ [key]: s.toJSON() }) } as any,
      { tag: `!${fn}`, collection: 'map', resolve: (s: any) => ({ [key]: s.toJSON() }) } as any,
    );
  }
  return tags;
}

const TAGS = shortTags();

/** "Res.Attr.With.Dots" → ["Res", "Attr.With.Dots"], as CloudFormation splits the short form. */
export function splitGetAtt(s: string): [string, string] {
  const i = s.indexOf('.');
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

/** Parses a template body (JSON or YAML); throws ValidationError with AWS's wording. */
export function parseTemplate(body: string): Template {
  const text = body.trim();
  let doc: unknown;
  if (text.startsWith('{')) {
    try {
      doc = JSON.parse(text);
    } catch {
      throw formatError('JSON not well-formed. (line 1, column 1)');
    }
  } else {
    try {
      doc = parseYaml(text, { customTags: TAGS, uniqueKeys: true, maxAliasCount: 1000 });
    } catch (err) {
      const pos = (err as { linePos?: { line: number; col: number }[] }).linePos?.[0];
      throw formatError(`YAML not well-formed. (line ${pos?.line ?? 1}, column ${pos?.col ?? 1})`);
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw formatError('unsupported structure.');
  return doc as Template;
}
