/**
 * The extension point for action providers: each (category, owner, provider) that opsbox can run
 * registers here with its artifact counts, its configuration keys and the code that does the work.
 * Validation rejects any action type that is not registered with AWS's "not available" error, so a
 * later issue adds CodeDeploy, CloudFormation, ECS or Lambda by calling registerActionProvider.
 */
import type { Readable } from 'node:stream';
import type { ServiceEnv } from '../../../gateway/service.js';

export interface ArtifactLocation {
  name: string;
  bucket: string;
  key: string;
  /** The source revision (commit id, S3 version) the artifact was made from, when a source action made it. */
  revision?: string;
}

export interface ActionDeclaration {
  name: string;
  actionTypeId: { category: string; owner: string; provider: string; version: string };
  runOrder?: number;
  configuration?: Record<string, string>;
  outputArtifacts?: { name: string }[];
  inputArtifacts?: { name: string }[];
  roleArn?: string;
  region?: string;
  namespace?: string;
  timeoutInMinutes?: number;
}

export interface SourceRevision {
  revisionId: string;
  revisionSummary?: string;
  /** The commit's author time (ms), the S3 object's last-modified time. */
  created?: number;
  revisionUrl?: string;
  revisionChangeIdentifier?: string;
}

export interface ActionResult {
  status: 'Succeeded' | 'Failed';
  summary?: string;
  errorCode?: string;
  errorMessage?: string;
  outputVariables?: Record<string, string>;
  externalExecutionId?: string;
  externalExecutionUrl?: string;
  revision?: SourceRevision;
}

export interface ActionContext {
  env: ServiceEnv;
  account: string;
  region: string;
  pipelineName: string;
  pipelineArn: string;
  pipelineVersion: number;
  /** The pipeline's service role (job workers' artifact credentials come from it, or the action's roleArn). */
  pipelineRoleArn?: string;
  /** The artifact store's KMS key, when the pipeline names one. */
  encryptionKey?: { id: string; type: string };
  executionId: string;
  stageName: string;
  actionExecutionId: string;
  action: ActionDeclaration;
  /** The configuration with #{…} variables resolved. */
  configuration: Record<string, string>;
  inputArtifacts: ArtifactLocation[];
  /** Where the action writes its outputs: the engine picks the keys in the artifact store. */
  outputArtifacts: ArtifactLocation[];
  /** A source revision to use instead of the latest (StartPipelineExecution overrides, the pushed commit). */
  sourceOverride?: { revisionType: string; revisionValue: string };
  /** Aborted when the execution is stopped with abandon or the pipeline is deleted. */
  signal: AbortSignal;
  /** What a provider saved with save() before a restart (a build id, an approval token). */
  saved: Record<string, unknown>;
  /** Persists facts the provider needs to resume after a restart; also shown in the action's state. */
  save(facts: Record<string, unknown>): void;
  putArtifact(loc: ArtifactLocation, body: Readable): Promise<void>;
  getArtifact(loc: ArtifactLocation): Promise<Readable>;
}

export interface ActionProvider {
  inputs: [number, number];
  outputs: [number, number];
  /** Configuration keys AWS requires, and the others it accepts. */
  required: string[];
  optional: string[];
  /** Checks at CreatePipeline/UpdatePipeline beyond keys; returns an error message or undefined. */
  validate?(action: ActionDeclaration): string | undefined;
  run(ctx: ActionContext): Promise<ActionResult>;
  /** Picks up an action that was in progress when opsbox stopped; without it the action runs again. */
  resume?(ctx: ActionContext): Promise<ActionResult>;
  /** Whether V2 pipeline triggers / push events concern this provider (source actions). */
  source?: 'codecommit' | 's3' | 'ecr';
}

const providers = new Map<string, ActionProvider>();
const key = (category: string, owner: string, provider: string) => `${category}|${owner}|${provider}`;

export function registerActionProvider(category: string, owner: string, provider: string, impl: ActionProvider) {
  providers.set(key(category, owner, provider), impl);
}

/** Every registered action type, as ListActionTypes describes it. */
export function actionTypes(): { category: string; owner: string; provider: string; impl: ActionProvider }[] {
  return [...providers].map(([k, impl]) => {
    const [category, owner, provider] = k.split('|');
    return { category, owner, provider, impl };
  });
}

export function actionProvider(t: { category: string; owner: string; provider: string; version?: string }) {
  if (t.version !== undefined && t.version !== '1') return undefined;
  return providers.get(key(t.category, t.owner, t.provider));
}

/** A failed result with AWS's errorDetails code. */
export const failed = (message: string, code = 'JobFailed'): ActionResult => ({
  status: 'Failed',
  errorCode: code,
  errorMessage: message,
  summary: message,
});
