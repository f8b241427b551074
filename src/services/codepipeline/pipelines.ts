/**
 * Pipeline handlers: CreatePipeline (which, as on AWS, starts a first execution), GetPipeline (any
 * version), UpdatePipeline, DeletePipeline, ListPipelines, the stage transitions and tags.
 */
import { parseArn, requireOwnArn } from '../../core/arn.js';
import { AwsError } from '../../core/errors.js';
import { decodeToken, encodeToken } from '../../core/pagination.js';
import { checkTags, keyValuesOf, tagMapOfKeyValues, type TagRules, type Tags } from '../../core/tags.js';
import type { RequestContext } from '../../gateway/context.js';
import type { CodepipelineHandlers, PipelineDeclarationOut } from './api.generated.js';
import type { Engine } from './engine.js';
import type { Transition } from './gates.js';
import type { CodepipelineStore, PipelineRow, Scope } from './store.js';
import type { PipelineTriggers } from './triggers.js';
import { validatePipeline, type PipelineDoc } from './validate.js';

const invalidToken = () =>
  new AwsError(
    'InvalidNextTokenException',
    'The next token was specified in an invalid format. Make sure that the next token you provide is the token returned by a previous call.',
  );

/** The pipeline an ARN names (ResourceNotFoundException / InvalidArnException otherwise). */
function pipelineOfArn(store: CodepipelineStore, resourceArn: string, ctx: RequestContext): PipelineRow {
  const p = parseArn(resourceArn);
  if (!p || p.service !== 'codepipeline' || !p.resource)
    throw new AwsError('InvalidArnException', `The ARN '${resourceArn}' is not valid.`);
  const notFound = () =>
    new AwsError(
      'ResourceNotFoundException',
      `The account with id '${ctx.account}' does not include a pipeline with the name '${p.resource}'`,
    );
  // another account's or region's pipeline is one this caller cannot see
  requireOwnArn(resourceArn, ctx, notFound);
  const row = store.pipeline(ctx, p.resource);
  if (!row) throw notFound();
  return row;
}

// key and value lengths are the model's constraints (ValidationException), checked before a handler runs
const tagRules: TagRules = {
  errors: (p) =>
    p.kind === 'tooMany'
      ? new AwsError('TooManyTagsException', `The number of tags exceeds the limit of ${p.limit} tags per resource.`)
      : new AwsError(
          'InvalidTagsException',
          p.kind === 'reservedKey' ? `Tag keys cannot start with the reserved prefix 'aws:': ${p.key}` : 'The tags are not valid.',
        ),
};

export function pipelineHandlers(store: CodepipelineStore, engine: Engine, triggers: PipelineTriggers, tags: Tags): CodepipelineHandlers {
  const arnOf = (s: Scope, row: PipelineRow) => engine.pipelineArn(s, row.name);
  const metadata = (s: Scope, row: PipelineRow) => ({
    pipelineArn: arnOf(s, row),
    created: new Date(row.created),
    updated: new Date(row.updated),
  });

  return {
    CreatePipeline(input, ctx) {
      const doc = validatePipeline(input.pipeline, ctx.region, 1);
      if (store.pipeline(ctx, doc.name))
        throw new AwsError(
          'PipelineNameInUseException',
          `A pipeline with the name '${doc.name}' already exists in account '${ctx.account}'`,
        );
      const tagMap = tagMapOfKeyValues(input.tags ?? []);
      checkTags(tagMap, tagRules);
      store.transaction(() => {
        store.insertPipeline(ctx, doc.name, JSON.stringify(doc), ctx.clock.now());
        tags.add(engine.pipelineArn(ctx, doc.name), tagMap, tagRules);
      });
      triggers.pipelineChanged(ctx, doc);
      engine.start(ctx, doc.name, { triggerType: 'CreatePipeline', triggerDetail: ctx.caller.arn });
      return { pipeline: doc as unknown as PipelineDeclarationOut, tags: input.tags?.length ? input.tags : undefined };
    },

    GetPipeline(input, ctx) {
      const row = store.requirePipeline(ctx, input.name);
      if (input.version !== undefined && input.version !== row.version) {
        const doc = store.versionDoc(ctx, row.name, input.version);
        if (!doc) throw new AwsError('PipelineVersionNotFoundException', `Pipeline '${row.name}' does not have version ${input.version}`);
        return { pipeline: JSON.parse(doc), metadata: metadata(ctx, row) };
      }
      return { pipeline: JSON.parse(row.doc), metadata: metadata(ctx, row) };
    },

    UpdatePipeline(input, ctx) {
      const row = store.requirePipeline(ctx, input.pipeline.name);
      const doc = validatePipeline(input.pipeline, ctx.region, row.version + 1);
      store.updatePipeline(ctx, row.name, doc.version, JSON.stringify(doc), ctx.clock.now());
      triggers.pipelineChanged(ctx, doc);
      return { pipeline: doc as unknown as PipelineDeclarationOut };
    },

    DeletePipeline(input, ctx) {
      if (!store.pipeline(ctx, input.name)) return;
      engine.forget(ctx, input.name);
      triggers.pipelineDeleted(ctx, input.name);
      store.transaction(() => {
        store.deletePipeline(ctx, input.name);
        tags.delete(engine.pipelineArn(ctx, input.name));
      });
    },

    ListPipelines(input, ctx) {
      const limit = input.maxResults ?? 1000;
      const after = input.nextToken ? decodeToken(input.nextToken, invalidToken) : '';
      const rows = store.pipelines(ctx, after, limit + 1);
      const page = rows.slice(0, limit);
      return {
        pipelines: page.map((r) => {
          const d = JSON.parse(r.doc) as PipelineDoc;
          return {
            name: r.name,
            version: r.version,
            pipelineType: d.pipelineType,
            executionMode: d.executionMode,
            created: new Date(r.created),
            updated: new Date(r.updated),
          };
        }),
        nextToken: rows.length > limit ? encodeToken(page[page.length - 1].name) : undefined,
      };
    },

    DisableStageTransition(input, ctx) {
      setTransition(
        input.pipelineName,
        input.stageName,
        input.transitionType,
        { enabled: false, reason: input.reason, by: ctx.caller.arn, at: ctx.clock.now() },
        ctx,
      );
    },

    EnableStageTransition(input, ctx) {
      setTransition(
        input.pipelineName,
        input.stageName,
        input.transitionType,
        { enabled: true, by: ctx.caller.arn, at: ctx.clock.now() },
        ctx,
      );
    },

    ListTagsForResource(input, ctx) {
      return { tags: keyValuesOf(tags.list(arnOf(ctx, pipelineOfArn(store, input.resourceArn, ctx)))) };
    },

    TagResource(input, ctx) {
      tags.add(arnOf(ctx, pipelineOfArn(store, input.resourceArn, ctx)), tagMapOfKeyValues(input.tags), tagRules);
      return {};
    },

    UntagResource(input, ctx) {
      tags.remove(arnOf(ctx, pipelineOfArn(store, input.resourceArn, ctx)), input.tagKeys);
      return {};
    },
  };

  function setTransition(pipelineName: string, stageName: string, type: string, t: Transition, ctx: RequestContext) {
    const row = store.requirePipeline(ctx, pipelineName);
    const doc = JSON.parse(row.doc) as PipelineDoc;
    if (!doc.stages.some((s) => s.name === stageName))
      throw new AwsError('StageNotFoundException', `Stage '${stageName}' does not exist in pipeline '${pipelineName}'`);
    const transitions = JSON.parse(row.transitions) as Record<string, Transition>;
    transitions[`${stageName}|${type}`] = t;
    store.setTransitions(ctx, row.name, JSON.stringify(transitions));
    engine.gates.setTransitions(ctx, row.name, transitions);
  }
}
