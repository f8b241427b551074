#!/usr/bin/env node
// Generates src/services/<name>/api.generated.ts — typed inputs, outputs and the handler table of
// every operation — from the same models/<id>.json the protocol engine reads. Run: npm run codegen
//
// Structures, lists and maps become types named as AWS names the shape (RepositoryMetadata, TagList).
// A shape read from requests is typed with its required members; one only answered with has every
// member optional; a shape used both ways whose two forms differ gets its output form as <Name>Out.
import { readFileSync, writeFileSync } from 'node:fs';

const SERVICES = {
  sts: 'sts-2011-06-15',
  iam: 'iam-2010-05-08',
  s3: 's3-2006-03-01',
  logs: 'logs-2014-03-28',
  cloudwatch: 'cloudwatch-2010-08-01',
  events: 'events-2015-10-07',
  sns: 'sns-2010-03-31',
  codecommit: 'codecommit-2015-04-13',
  codebuild: 'codebuild-2016-10-06',
  codepipeline: 'codepipeline-2015-07-09',
  kms: 'kms-2014-11-01',
  ssm: 'ssm-2014-11-06',
  secretsmanager: 'secretsmanager-2017-10-17',
  ecr: 'ecr-2015-09-21',
  lambda: 'lambda-2015-03-31',
  ecs: 'ecs-2014-11-13',
  elbv2: 'elbv2-2015-12-01',
  ec2: 'ec2-2016-11-15',
  applicationautoscaling: 'application-autoscaling-2016-02-06',
  apprunner: 'apprunner-2020-05-15',
  xray: 'xray-2016-04-12',
  appconfig: 'appconfig-2019-10-09',
  appconfigdata: 'appconfigdata-2021-11-11',
  ssmincidents: 'ssm-incidents-2018-05-10',
  ssmcontacts: 'ssm-contacts-2021-05-03',
  codedeploy: 'codedeploy-2014-10-06',
  cloudformation: 'cloudformation-2010-05-15',
};

const OVERRIDES = JSON.parse(readFileSync(new URL('../models/overrides.json', import.meta.url), 'utf8'));

// names the generated file itself uses
const RESERVED = new Set([
  'Date',
  'Array',
  'Record',
  'Readable',
  'Buffer',
  'Handler',
  'Promise',
  'Error',
  'Object',
  'String',
  'Number',
  'Boolean',
  'Map',
  'Set',
]);

function generate(folder, modelId) {
  const model = JSON.parse(readFileSync(new URL(`../models/${modelId}.json`, import.meta.url), 'utf8'));
  // the same departures src/model/model.ts applies on load
  for (const [shape, { members }] of Object.entries(OVERRIDES[modelId]?.required ?? {}))
    model.shapes[shape] = { ...model.shapes[shape], required: members };
  const shapes = model.shapes;
  const pascal = folder.charAt(0).toUpperCase() + folder.slice(1);
  const opAliases = new Set(Object.keys(model.operations).flatMap((n) => [`${n}Input`, `${n}Output`]));
  const emitted = new Map(); // type name -> definition (null while being built: recursion)

  const isNamed = (name) => ['structure', 'list', 'map'].includes(shapes[name]?.type) && !shapes[name].document;
  const baseName = (name) => (RESERVED.has(name) ? `${name}Shape` : name);

  /** Whether a shape's input and output forms differ (required members, timestamps, blobs). */
  const differs = new Map();
  function dirDependent(name, seen = new Set()) {
    if (differs.has(name)) return differs.get(name);
    if (seen.has(name)) return false;
    seen.add(name);
    const s = shapes[name];
    let d = false;
    if (s.type === 'structure') d = (s.required ?? []).length > 0 || Object.values(s.members ?? {}).some((m) => refDiffers(m, seen));
    else if (s.type === 'list') d = refDiffers(s.member, seen);
    else if (s.type === 'map') d = refDiffers(s.value, seen);
    else d = s.type === 'timestamp' || s.type === 'blob';
    differs.set(name, d);
    return d;
  }
  const refDiffers = (ref, seen) => dirDependent(ref.shape, seen);

  function nameFor(shapeName, dir) {
    const base = baseName(shapeName);
    if (dir === 'in' || !dirDependent(shapeName)) return opAliases.has(base) && !isOpShape(shapeName) ? `${base}Shape` : base;
    return `${base}Out`;
  }
  const opShapes = new Set(Object.values(model.operations).flatMap((o) => [o.input?.shape, o.output?.shape].filter(Boolean)));
  const isOpShape = (n) => opShapes.has(n);

  function refType(ref, dir) {
    const name = ref.shape;
    if (isNamed(name)) {
      const type = nameFor(name, dir);
      if (!emitted.has(type)) {
        emitted.set(type, null);
        emitted.set(type, body(shapes[name], dir, ref));
      }
      return type;
    }
    return body(shapes[name], dir, ref);
  }

  function body(s, dir, ref = {}) {
    switch (s.type) {
      case 'structure': {
        if (s.document) return 'unknown';
        const req = new Set(s.required ?? []);
        const fields = Object.entries(s.members ?? {}).map(
          ([name, m]) => `${JSON.stringify(name)}${dir === 'in' && req.has(name) ? '' : '?'}: ${refType(m, dir)}`,
        );
        return fields.length ? `{ ${fields.join('; ')} }` : 'Record<string, never>';
      }
      case 'list':
        return `Array<${refType(s.member, dir)}>`;
      case 'map':
        return `Record<string, ${refType(s.value, dir)}>`;
      case 'integer':
      case 'long':
      case 'float':
      case 'double':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'timestamp':
        return dir === 'in' ? 'Date' : 'Date | number';
      case 'blob':
        return s.streaming || ref.streaming
          ? dir === 'in'
            ? 'Readable'
            : 'Readable | Buffer | string'
          : dir === 'in'
            ? 'Buffer'
            : 'Buffer | string';
      default:
        return 'string';
    }
  }

  const ops = [];
  for (const [name, op] of Object.entries(model.operations)) {
    // an operation's own shapes are typed inline under <Op>Input / <Op>Output
    const inline = (ref, dir) => (ref ? body(shapes[ref.shape], dir, ref) : dir === 'in' ? 'Record<string, never>' : 'void');
    ops.push({ name, input: inline(op.input, 'in'), output: inline(op.output, 'out') });
  }
  const lines = [
    `// GENERATED by scripts/codegen.mjs from models/${modelId}.json — do not edit by hand.`,
    `/* eslint-disable */`,
    `import type { Handler } from '../../gateway/service.js';`,
    '',
  ];
  for (const [key, type] of [...emitted].sort(([a], [b]) => (a < b ? -1 : 1)))
    if (!opAliases.has(key)) lines.push(`export type ${key} = ${type};`);
  const all = lines.join('\n') + ops.map((o) => o.input + o.output).join('');
  if (all.includes('Readable')) lines.splice(2, 0, `import type { Readable } from 'node:stream';`);
  lines.push('');
  for (const op of ops) {
    lines.push(`export type ${op.name}Input = ${op.input};`);
    lines.push(`export type ${op.name}Output = ${op.output};`);
  }
  lines.push('', `/** The operations of ${modelId}; a service implements a subset, the rest answer NotImplemented. */`);
  lines.push(`export interface ${pascal}Handlers {`);
  for (const op of ops) lines.push(`  ${op.name}?: Handler<${op.name}Input, ${op.name}Output | Promise<${op.name}Output>>;`);
  lines.push('}', '');
  writeFileSync(new URL(`../src/services/${folder}/api.generated.ts`, import.meta.url), lines.join('\n'));
}

for (const [folder, id] of Object.entries(SERVICES)) generate(folder, id);
console.log(`generated ${Object.keys(SERVICES).length} api.generated.ts files`);
