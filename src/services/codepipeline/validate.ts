/**
 * Structure validation for CreatePipeline/UpdatePipeline, in the order AWS checks and with its
 * exception types: InvalidStructureException for the pipeline's shape, InvalidStageDeclaration /
 * InvalidActionDeclarationException for a stage or action, ValidationException for V2-only
 * features on V1. Returns the declaration with AWS's defaults filled in (runOrder 1, V1, SUPERSEDED).
 */
import { AwsError } from '../../core/errors.js';
import type { PipelineDeclaration } from './api.generated.js';
import { actionProvider, type ActionDeclaration } from './providers/registry.js';
import { referencedNamespaces } from './variables.js';

export interface StageDeclaration {
  name: string;
  actions: ActionDeclaration[];
  blockers?: { name: string; type: string }[];
  onFailure?: { result?: string };
  [k: string]: unknown;
}

export interface Trigger {
  providerType: string;
  gitConfiguration: {
    sourceActionName: string;
    push?: {
      tags?: { includes?: string[]; excludes?: string[] };
      branches?: { includes?: string[]; excludes?: string[] };
      filePaths?: { includes?: string[]; excludes?: string[] };
    }[];
    pullRequest?: unknown[];
  };
}

export interface PipelineDoc {
  name: string;
  roleArn: string;
  artifactStore?: { type: string; location: string; encryptionKey?: { id: string; type: string } };
  artifactStores?: Record<string, { type: string; location: string }>;
  stages: StageDeclaration[];
  version: number;
  executionMode: 'SUPERSEDED' | 'QUEUED' | 'PARALLEL';
  pipelineType: 'V1' | 'V2';
  variables?: { name: string; defaultValue?: string; description?: string }[];
  triggers?: Trigger[];
}

const structure = (m: string) => new AwsError('InvalidStructureException', m);
const actionError = (m: string) => new AwsError('InvalidActionDeclarationException', m);
const stageError = (m: string) => new AwsError('InvalidStageDeclarationException', m);
const regionName = (r: string) => r.toUpperCase().replace(/-/g, '_');
const NS = /^[A-Za-z0-9@\-_]+$/;

export function validatePipeline(input: PipelineDeclaration, region: string, version: number): PipelineDoc {
  const p = structuredClone(input) as unknown as PipelineDoc;
  p.version = version;
  p.pipelineType = (p.pipelineType ?? 'V1') as PipelineDoc['pipelineType'];
  p.executionMode = (p.executionMode ?? 'SUPERSEDED') as PipelineDoc['executionMode'];
  if (p.pipelineType === 'V1') {
    if (p.executionMode !== 'SUPERSEDED')
      throw new AwsError('ValidationException', `Execution mode ${p.executionMode} is only supported for pipeline type V2`);
    if (p.variables?.length) throw new AwsError('ValidationException', 'Pipeline variables are only supported for pipeline type V2');
    if (p.triggers?.length) throw new AwsError('ValidationException', 'Triggers are only supported for pipeline type V2');
  }

  if (p.artifactStore && p.artifactStores) throw structure('Pipeline cannot have both an artifactStore and artifactStores');
  if (!p.artifactStore && !p.artifactStores) throw structure('Pipeline must have an artifactStore or artifactStores');
  if (p.artifactStores && !p.artifactStores[region])
    throw structure(`artifactStores must contain an artifact store for the pipeline region '${region}'`);
  for (const store of p.artifactStore ? [p.artifactStore] : Object.values(p.artifactStores ?? {}))
    if (store.type !== 'S3') throw structure(`Artifact store type '${store.type}' is not supported; the only supported type is S3`);

  if (p.stages.length < 2)
    throw structure(`Pipeline has only ${p.stages.length} stage(s). There should be a minimum of 2 stages in a pipeline`);
  const stageNames = new Set<string>();
  for (const s of p.stages) {
    if (stageNames.has(s.name)) throw structure(`Stage name '${s.name}' is not unique in the pipeline`);
    stageNames.add(s.name);
    if (s.actions.length === 0) throw stageError(`Stage '${s.name}' should have at least one action`);
  }

  const produced = new Map<string, string>();
  const namespaces = new Set<string>();
  const allNamespaces = new Set<string>();
  const sourceActions = new Set<string>();
  p.stages.forEach((stage, index) => {
    const actionNames = new Set<string>();
    for (const a of stage.actions) {
      if (actionNames.has(a.name)) throw stageError(`Action name '${a.name}' is not unique in stage '${stage.name}'`);
      actionNames.add(a.name);
      a.runOrder ??= 1;
      const t = a.actionTypeId;
      const isSource = t.category === 'Source';
      if (index === 0 && !isSource) throw structure('Pipeline should start with a stage that only contains source actions');
      if (index > 0 && isSource)
        throw structure(
          `Pipeline can only have source actions in the first stage. Stage '${stage.name}' contains source action '${a.name}'`,
        );
      if (isSource) sourceActions.add(a.name);
      const provider = actionProvider(t);
      if (!provider)
        throw actionError(
          `ActionType (Category: '${t.category}', Provider: '${t.provider}', Owner: '${t.owner}', Version: '${t.version}') in action '${a.name}' is not available in region '${regionName(region)}'`,
        );
      const ins = a.inputArtifacts ?? [];
      const outs = a.outputArtifacts ?? [];
      if (ins.length < provider.inputs[0])
        throw actionError(
          `Action '${a.name}' declares ${ins.length} input artifacts which is less than the minimum count (${provider.inputs[0]})`,
        );
      if (ins.length > provider.inputs[1])
        throw actionError(
          `Action '${a.name}' declares ${ins.length} input artifacts which is more than the maximum count (${provider.inputs[1]})`,
        );
      if (outs.length < provider.outputs[0])
        throw actionError(
          `Action '${a.name}' declares ${outs.length} output artifacts which is less than the minimum count (${provider.outputs[0]})`,
        );
      if (outs.length > provider.outputs[1])
        throw actionError(
          `Action '${a.name}' declares ${outs.length} output artifacts which is more than the maximum count (${provider.outputs[1]})`,
        );
      const config = a.configuration ?? {};
      for (const k of provider.required)
        if (config[k] === undefined || config[k] === '')
          throw actionError(`Action configuration for action '${a.name}' is missing required configuration '${k}'`);
      const known = new Set([...provider.required, ...provider.optional]);
      for (const k of Object.keys(config))
        if (!known.has(k)) throw actionError(`Action configuration for action '${a.name}' contains unknown configuration '${k}'`);
      const problem = provider.validate?.(a);
      if (problem) throw actionError(problem);
      if (a.namespace !== undefined) {
        if (!NS.test(a.namespace) || a.namespace.length > 100)
          throw actionError(`Namespace '${a.namespace}' of action '${a.name}' is not valid`);
        if (a.namespace === 'codepipeline' || a.namespace === 'variables')
          throw actionError(`Namespace '${a.namespace}' of action '${a.name}' is reserved`);
        if (allNamespaces.has(a.namespace))
          throw actionError(`Namespace '${a.namespace}' of action '${a.name}' is already used by another action in the pipeline`);
        allNamespaces.add(a.namespace);
      }
    }
    // inputs may come from earlier stages or from a lower runOrder in this stage
    const orders = [...new Set(stage.actions.map((a) => a.runOrder!))].sort((x, y) => x - y);
    for (const order of orders) {
      const group = stage.actions.filter((a) => a.runOrder === order);
      for (const a of group) {
        for (const v of Object.values(a.configuration ?? {}))
          for (const ns of referencedNamespaces(v))
            if (ns !== 'codepipeline' && ns !== 'variables' && !namespaces.has(ns))
              throw actionError(`Action '${a.name}' refers to namespace '${ns}', which is not declared by an action that runs before it`);
        const seen = new Set<string>();
        for (const i of a.inputArtifacts ?? []) {
          if (seen.has(i.name)) throw actionError(`Action '${a.name}' declares input artifact '${i.name}' more than once`);
          seen.add(i.name);
          if (!produced.has(i.name))
            throw structure(
              `Input artifact '${i.name}' of action '${a.name}' in stage '${stage.name}' is not the output artifact of an action that runs before it`,
            );
        }
      }
      for (const a of group) {
        for (const o of a.outputArtifacts ?? []) {
          if (produced.has(o.name))
            throw structure(`Output artifact name '${o.name}' of action '${a.name}' is already used by action '${produced.get(o.name)}'`);
          produced.set(o.name, a.name);
        }
        if (a.namespace) namespaces.add(a.namespace);
      }
    }
  });

  const varNames = new Set<string>();
  for (const v of p.variables ?? []) {
    if (!NS.test(v.name) || v.name.length > 128)
      throw new AwsError('ValidationException', `Pipeline variable name '${v.name}' is not valid`);
    if (varNames.has(v.name)) throw new AwsError('ValidationException', `Pipeline variable '${v.name}' is declared more than once`);
    varNames.add(v.name);
  }
  if ((p.variables?.length ?? 0) > 50) throw new AwsError('ValidationException', 'A pipeline can have at most 50 variables');

  for (const t of p.triggers ?? []) {
    const name = t.gitConfiguration.sourceActionName;
    if (!sourceActions.has(name))
      throw new AwsError('ValidationException', `Trigger sourceActionName '${name}' does not name a source action of the pipeline`);
    for (const f of t.gitConfiguration.push ?? []) {
      if (f.tags && (f.branches || f.filePaths))
        throw new AwsError('ValidationException', 'A push filter can have either tags or branches and file paths, not both');
      if (f.filePaths && !f.branches) throw new AwsError('ValidationException', 'A push filter with file paths must also filter branches');
    }
  }
  return p;
}

/** The artifact bucket for the pipeline's region. */
export function artifactBucket(p: PipelineDoc, region: string): string {
  return p.artifactStore?.location ?? p.artifactStores?.[region]?.location ?? '';
}
