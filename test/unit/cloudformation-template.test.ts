import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dependencies, order } from '../../src/services/cloudformation/template/graph.js';
import { cidr, resolveValue, type EvalContext } from '../../src/services/cloudformation/template/intrinsics.js';
import { resolveParameters } from '../../src/services/cloudformation/template/parameters.js';
import { parseTemplate } from '../../src/services/cloudformation/template/parse.js';
import { resolveDynamicRefs } from '../../src/services/cloudformation/template/dynamicRefs.js';
import { requiredCapabilities, validateTemplate } from '../../src/services/cloudformation/template/validate.js';

const YAML = `
Parameters:
  Env: { Type: String, AllowedValues: [dev, prod], Default: dev }
  Subnets: { Type: CommaDelimitedList, Default: "a,b" }
Mappings:
  Sizes: { dev: { Mem: 128 }, prod: { Mem: 1024 } }
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "\${AWS::StackName}-\${Env}-data"
      Extra: !If [IsProd, big, !Ref AWS::NoValue]
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: !Join ["-", [!Ref Bucket, !GetAtt Bucket.Arn, !Select [1, !Ref Subnets]]]
      Mem: !FindInMap [Sizes, !Ref Env, Mem]
      Split: !Split [",", "x,y"]
      B64: !Base64 hi
      Azs: !GetAZs ""
      Sub2: !Sub ["\${X}-\${!Lit}", { X: !Ref Env }]
`;

function ctx(t: ReturnType<typeof parseTemplate>, params: Record<string, string | string[]>): EvalContext {
  return {
    params: { ...params, 'AWS::StackName': 'shop', 'AWS::Region': 'us-east-1' },
    mappings: t.Mappings ?? {},
    conditions: t.Conditions ?? {},
    region: 'us-east-1',
    ref: (id) => `phys-${id}`,
    getAtt: (id, a) => `${id}.${a}`,
  };
}

test('YAML short forms become long forms and every intrinsic resolves', () => {
  const t = parseTemplate(YAML);
  validateTemplate(t);
  const c = ctx(t, { Env: 'dev', Subnets: ['a', 'b'] });
  assert.deepEqual(resolveValue(t.Resources.Bucket.Properties, c), { BucketName: 'shop-dev-data' });
  assert.deepEqual(resolveValue(t.Resources.Topic.Properties, c), {
    DisplayName: 'phys-Bucket-Bucket.Arn-b',
    Mem: 128,
    Split: ['x', 'y'],
    B64: 'aGk=',
    Azs: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
    Sub2: 'dev-${Lit}',
  });
  const p = ctx(t, { Env: 'prod', Subnets: ['a'] });
  assert.equal(resolveValue(t.Resources.Bucket.Properties, p).Extra, 'big');
  assert.equal(resolveValue({ 'Fn::If': ['NotProd', 1, 2] }, p), 2);
});

test('dependency graph: waves in order, cycles worded as AWS does', () => {
  const t = parseTemplate(YAML);
  assert.deepEqual(order(dependencies(t)), [['Bucket'], ['Topic']]);
  const cyc = parseTemplate(
    JSON.stringify({
      Resources: { A: { Type: 'AWS::SNS::Topic', DependsOn: 'B' }, B: { Type: 'AWS::SNS::Topic', Properties: { X: { Ref: 'A' } } } },
    }),
  );
  assert.throws(() => validateTemplate(cyc), /Circular dependency between resources: \[A, B\]/);
});

test('ValidateTemplate errors', () => {
  assert.throws(() => parseTemplate('{ bad json'), /Template format error: JSON not well-formed/);
  assert.throws(() => parseTemplate('a: [\n'), /YAML not well-formed/);
  assert.throws(() => validateTemplate(parseTemplate('{"Resources":{}}')), /At least one Resources member must be defined/);
  assert.throws(
    () => validateTemplate(parseTemplate('Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties: { X: !Ref Nope }\n')),
    /Unresolved resource dependencies \[Nope\] in the Resources block/,
  );
  assert.throws(
    () => validateTemplate(parseTemplate('Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties: { X: !GetAtt Nope.Arn }\n')),
    /Fn::GetAtt references undefined resource Nope/,
  );
  assert.throws(() => validateTemplate(parseTemplate('Resources:\n  A:\n    Type: Foo\n')), /Unrecognized resource types: \[Foo\]/);
  assert.throws(
    () => validateTemplate(parseTemplate('Foo: 1\nResources:\n  A:\n    Type: AWS::SNS::Topic\n')),
    /Invalid template property or properties \[Foo\]/,
  );
});

test('parameters: defaults, constraints, unknown and missing, SSM types', async () => {
  const t = parseTemplate(`Parameters:
  Env: { Type: String, AllowedValues: [dev, prod] }
  N: { Type: Number, MinValue: 2, MaxValue: 5, Default: 3 }
  P: { Type: String, AllowedPattern: "[a-z]+", Default: abc }
  Img: { Type: "AWS::SSM::Parameter::Value<String>", Default: /img }
Resources:
  A: { Type: AWS::SNS::Topic }
`);
  const ssm = async (n: string) => (n === '/img' ? 'ami-1' : undefined);
  await assert.rejects(resolveParameters(t, [], [], ssm), /Parameters: \[Env\] must have values/);
  await assert.rejects(
    resolveParameters(t, [{ ParameterKey: 'Zz', ParameterValue: '1' }], [], ssm),
    /Parameters: \[Zz\] do not exist in the template/,
  );
  await assert.rejects(
    resolveParameters(t, [{ ParameterKey: 'Env', ParameterValue: 'qa' }], [], ssm),
    /Parameter 'Env' must be one of AllowedValues/,
  );
  await assert.rejects(
    resolveParameters(
      t,
      [
        { ParameterKey: 'Env', ParameterValue: 'dev' },
        { ParameterKey: 'N', ParameterValue: '9' },
      ],
      [],
      ssm,
    ),
    /must be a number not greater than 5/,
  );
  await assert.rejects(
    resolveParameters(
      t,
      [
        { ParameterKey: 'Env', ParameterValue: 'dev' },
        { ParameterKey: 'P', ParameterValue: 'A1' },
      ],
      [],
      ssm,
    ),
    /must match pattern/,
  );
  const ok = await resolveParameters(t, [{ ParameterKey: 'Env', ParameterValue: 'dev' }], [], ssm);
  assert.equal(ok.find((p) => p.key === 'Img')?.resolved, 'ami-1');
  await assert.rejects(
    resolveParameters(
      t,
      [
        { ParameterKey: 'Env', ParameterValue: 'dev' },
        { ParameterKey: 'Img', ParameterValue: '/none' },
      ],
      [],
      ssm,
    ),
    /\/none/,
  );
});

test('Fn::Cidr, dynamic references, capabilities', async () => {
  assert.deepEqual(cidr('10.0.0.0/16', 3, 8), ['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24']);
  const v = await resolveDynamicRefs(
    { a: 'x-{{resolve:ssm:/p}}-{{resolve:secretsmanager:s:SecretString:k}}' },
    {
      ssm: async (n) => `v${n}`,
      secret: async () => '{"k":"sec"}',
    },
  );
  assert.deepEqual(v, { a: 'x-v/p-sec' });
  assert.deepEqual(
    requiredCapabilities(parseTemplate('Resources:\n  R: { Type: AWS::IAM::Role, Properties: { RoleName: x } }\n')).capabilities,
    ['CAPABILITY_NAMED_IAM'],
  );
});
