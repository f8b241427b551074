/**
 * Source actions: CodeCommit (the branch's commit, or the pushed/overridden one, as a zip of its
 * tree), S3 (a version of an object in a versioned bucket, copied as is) and ECR (the image a tag
 * names, or the pushed/overridden digest, as a zip holding imageDetail.json). Each reports the
 * revision (commit id / version id / image digest) the execution records, and AWS's output variables.
 */
import { AwsError } from '../../../core/errors.js';
import { archiveZip, commitInfo, revParse } from '../../../core/gitRead.js';
import { zipBuffers } from '../../../core/zip.js';
import { failed, registerActionProvider, type ActionContext, type ActionResult } from './registry.js';

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function codeCommitSource(ctx: ActionContext): Promise<ActionResult> {
  const { RepositoryName: repoName, BranchName: branch } = ctx.configuration;
  const repo = ctx.env.repos.resolve(ctx.account, ctx.region, repoName);
  if (!repo) return failed(`The repository named ${repoName} does not exist in account ${ctx.account}.`, 'ConfigurationError');
  let commit: string | undefined;
  if (ctx.sourceOverride?.revisionType === 'COMMIT_ID') {
    commit = await revParse(repo.gitDir, ctx.sourceOverride.revisionValue);
    if (!commit)
      return failed(`Could not find commit ${ctx.sourceOverride.revisionValue} in repository ${repoName}.`, 'ConfigurationError');
  } else {
    commit = await revParse(repo.gitDir, `refs/heads/${branch}`);
    if (!commit) return failed(`The branch ${branch} does not exist in repository ${repoName}.`, 'ConfigurationError');
  }
  const info = await commitInfo(repo.gitDir, commit);
  // OutputArtifactFormat CODEBUILD_CLONE_REF also gets the tree as a zip: opsbox builds read it like CODE_ZIP
  for (const out of ctx.outputArtifacts) await ctx.putArtifact(out, archiveZip(repo.gitDir, commit));
  return {
    status: 'Succeeded',
    externalExecutionId: commit,
    summary: info.message.split('\n')[0].slice(0, 2048),
    externalExecutionUrl: `https://${ctx.region}.console.aws.amazon.com/codesuite/codecommit/repositories/${repoName}/commit/${commit}?region=${ctx.region}`,
    outputVariables: {
      CommitId: commit,
      CommitMessage: info.message,
      AuthorDate: iso(info.authorTime),
      CommitterDate: iso(info.committerTime),
      BranchName: branch,
      RepositoryName: repoName,
    },
    revision: {
      revisionId: commit,
      revisionSummary: info.message,
      created: info.authorTime,
      revisionUrl: `https://${ctx.region}.console.aws.amazon.com/codesuite/codecommit/repositories/${repoName}/commit/${commit}?region=${ctx.region}`,
    },
  };
}

async function s3Source(ctx: ActionContext): Promise<ActionResult> {
  const c = ctx.configuration;
  const scope = { account: ctx.account, region: ctx.region };
  let key = c.S3ObjectKey;
  let versionId: string | undefined;
  if (ctx.sourceOverride?.revisionType === 'S3_OBJECT_VERSION_ID') versionId = ctx.sourceOverride.revisionValue;
  if (ctx.sourceOverride?.revisionType === 'S3_OBJECT_KEY') key = ctx.sourceOverride.revisionValue;
  try {
    const v = await ctx.env.services.call('s3', 'GetBucketVersioning', { Bucket: c.S3Bucket }, scope);
    if (v.Status !== 'Enabled')
      return failed(
        `Bucket ${c.S3Bucket} is not versioned. Enable versioning on the bucket to use it as a pipeline source.`,
        'ConfigurationError',
      );
    const obj = await ctx.env.services.call('s3', 'GetObject', { Bucket: c.S3Bucket, Key: key, VersionId: versionId }, scope);
    for (const out of ctx.outputArtifacts) await ctx.putArtifact(out, obj.Body);
    const created = obj.LastModified instanceof Date ? obj.LastModified.getTime() : ctx.env.clock.now();
    const etag = String(obj.ETag ?? '').replace(/"/g, '');
    const version = obj.VersionId ?? 'null';
    return {
      status: 'Succeeded',
      externalExecutionId: version,
      summary: `Amazon S3 version id: ${version}`,
      outputVariables: { ETag: etag, VersionId: version },
      revision: { revisionId: version, revisionSummary: `Amazon S3 version id: ${version}`, created, revisionChangeIdentifier: etag },
    };
  } catch (err) {
    if (err instanceof AwsError) return failed(`Could not access ${c.S3Bucket}/${key}: ${err.code}: ${err.message}`, 'ConfigurationError');
    throw err;
  }
}

/** The date format imageDetail.json carries (AWS writes the push time as `date` prints it, in UTC). */
const pushedAtText = (d: Date) => {
  const p = (n: number) => String(n).padStart(2, '0');
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()];
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  return `${day} ${month} ${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
};

async function ecrSource(ctx: ActionContext): Promise<ActionResult> {
  const repositoryName = ctx.configuration.RepositoryName;
  const tag = ctx.configuration.ImageTag || 'latest';
  const scope = { account: ctx.account, region: ctx.region };
  const imageId =
    ctx.sourceOverride?.revisionType === 'IMAGE_DIGEST' ? { imageDigest: ctx.sourceOverride.revisionValue } : { imageTag: tag };
  try {
    const { repositories } = await ctx.env.services.call('ecr', 'DescribeRepositories', { repositoryNames: [repositoryName] }, scope);
    const { imageDetails } = await ctx.env.services.call('ecr', 'DescribeImages', { repositoryName, imageIds: [imageId] }, scope);
    const image = imageDetails[0];
    const uri = `${repositories[0].repositoryUri}@${image.imageDigest}`;
    const pushedAt = image.imagePushedAt instanceof Date ? image.imagePushedAt : new Date(image.imagePushedAt);
    const detail = {
      ImageSizeInBytes: String(image.imageSizeInBytes ?? 0),
      ImageDigest: image.imageDigest,
      Version: '1.0',
      ImagePushedAt: pushedAtText(pushedAt),
      RegistryId: image.registryId,
      RepositoryName: repositoryName,
      ImageURI: uri,
      ImageTags: image.imageTags ?? [],
    };
    for (const out of ctx.outputArtifacts) await ctx.putArtifact(out, zipBuffers({ 'imageDetail.json': JSON.stringify(detail) }));
    return {
      status: 'Succeeded',
      externalExecutionId: image.imageDigest,
      summary: `Image ${repositoryName}@${image.imageDigest}`,
      outputVariables: {
        RegistryId: image.registryId,
        RepositoryName: repositoryName,
        ImageTag: tag,
        ImageDigest: image.imageDigest,
        ImageURI: uri,
      },
      revision: { revisionId: image.imageDigest, revisionSummary: `Image ${repositoryName}:${tag}`, created: pushedAt.getTime() },
    };
  } catch (err) {
    if (err instanceof AwsError)
      return failed(`Could not read image ${repositoryName}:${tag}: ${err.code}: ${err.message}`, 'ConfigurationError');
    throw err;
  }
}

export function registerSourceProviders() {
  registerActionProvider('Source', 'AWS', 'CodeCommit', {
    inputs: [0, 0],
    outputs: [1, 1],
    required: ['RepositoryName', 'BranchName'],
    optional: ['PollForSourceChanges', 'OutputArtifactFormat'],
    source: 'codecommit',
    validate(a) {
      const f = a.configuration?.OutputArtifactFormat;
      if (f !== undefined && f !== 'CODE_ZIP' && f !== 'CODEBUILD_CLONE_REF')
        return `Action configuration for action '${a.name}' contains an invalid value for OutputArtifactFormat: '${f}'`;
      return undefined;
    },
    run: codeCommitSource,
  });
  registerActionProvider('Source', 'AWS', 'S3', {
    inputs: [0, 0],
    outputs: [1, 1],
    required: ['S3Bucket', 'S3ObjectKey'],
    optional: ['PollForSourceChanges', 'AllowOverrideForS3ObjectKey'],
    source: 's3',
    run: s3Source,
  });
  registerActionProvider('Source', 'AWS', 'ECR', {
    inputs: [0, 0],
    outputs: [1, 1],
    required: ['RepositoryName'],
    optional: ['ImageTag'],
    source: 'ecr',
    run: ecrSource,
  });
}
