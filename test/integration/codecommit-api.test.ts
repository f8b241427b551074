/**
 * CodeCommit API against real git data: repositories, branches, files and commits (parent commit
 * rules, binary files, path traversal), merges with conflicts, pull requests with approval rules,
 * comments, events and triggers. Calls are mostly raw awsJson1.1, plus the aws CLI where its own
 * encoding matters and the SDK v3 client for a repository's tags across rename and re-creation.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  CodeCommitClient,
  CreateRepositoryCommand,
  DeleteRepositoryCommand,
  ListTagsForResourceCommand,
  UpdateRepositoryNameCommand,
} from '@aws-sdk/client-codecommit';
import { awsCli, clientConfig, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';
import { api, errorCode, eventSink, ok, type Sink } from './codecommit.helpers.js';

let box: RunningOpsbox;
let sink: Sink;
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

before(async () => {
  box = await startOpsbox();
  sink = await eventSink(box.url);
});
after(async () => {
  sink?.close();
  await box?.dispose();
});

/** A repository with one commit on main holding `files`; returns the tip. */
async function seed(name: string, files: Record<string, string> = { 'README.md': 'hello\n' }) {
  await ok(box.url, 'CreateRepository', { repositoryName: name });
  const c = await ok(box.url, 'CreateCommit', {
    repositoryName: name,
    branchName: 'main',
    commitMessage: 'seed',
    putFiles: Object.entries(files).map(([filePath, content]) => ({ filePath, fileContent: b64(content) })),
  });
  return c.commitId as string;
}

describe('repositories', () => {
  test('CreateRepository: invalid names → InvalidRepositoryNameException, duplicates → RepositoryNameExistsException', async () => {
    for (const bad of ['has space', 'x'.repeat(101), 'ends.git', 'sl/ash', '..']) {
      const r = await api(box.url, 'CreateRepository', { repositoryName: bad });
      assert.equal(r.status, 400);
      assert.equal(errorCode(r), 'InvalidRepositoryNameException', bad);
    }
    const name = unique('dup');
    const created = await ok(box.url, 'CreateRepository', {
      repositoryName: name,
      repositoryDescription: 'd',
      tags: { team: 'a' },
      kmsKeyId: 'alias/x',
    });
    assert.match(created.repositoryMetadata.repositoryId, /^[0-9a-f-]{36}$/);
    assert.equal(created.repositoryMetadata.Arn, `arn:aws:codecommit:us-east-1:000000000000:${name}`);
    const again = await api(box.url, 'CreateRepository', { repositoryName: name });
    assert.equal(errorCode(again), 'RepositoryNameExistsException');
    const tags = await ok(box.url, 'ListTagsForResource', { resourceArn: created.repositoryMetadata.Arn });
    assert.deepEqual(tags.tags, { team: 'a' });
  });

  test('GetRepository: missing → RepositoryDoesNotExistException "<name> does not exist"', async () => {
    const name = unique('missing');
    const r = await api(box.url, 'GetRepository', { repositoryName: name });
    assert.equal(errorCode(r), 'RepositoryDoesNotExistException');
    assert.equal(r.body.message, `${name} does not exist`);
  });

  test('BatchGetRepositories, ListRepositories sorted and ordered, rename, describe, delete (idempotent)', async () => {
    const a = unique('aaa');
    const z = unique('zzz');
    await ok(box.url, 'CreateRepository', { repositoryName: z });
    await ok(box.url, 'CreateRepository', { repositoryName: a });
    const batch = await ok(box.url, 'BatchGetRepositories', { repositoryNames: [a, 'nope-' + a] });
    assert.deepEqual(
      batch.repositories.map((r: any) => r.repositoryName),
      [a],
    );
    assert.deepEqual(batch.repositoriesNotFound, ['nope-' + a]);

    const asc = (await ok(box.url, 'ListRepositories', { sortBy: 'repositoryName', order: 'ascending' })).repositories.map(
      (r: any) => r.repositoryName,
    );
    assert.deepEqual(asc, [...asc].sort());
    const desc = (await ok(box.url, 'ListRepositories', { sortBy: 'repositoryName', order: 'descending' })).repositories.map(
      (r: any) => r.repositoryName,
    );
    assert.deepEqual(desc, [...asc].reverse());
    const byDate = (await ok(box.url, 'ListRepositories', { sortBy: 'lastModifiedDate', order: 'descending' })).repositories.map(
      (r: any) => r.repositoryName,
    );
    assert.ok(byDate.indexOf(a) < byDate.indexOf(z));
    assert.equal(errorCode(await api(box.url, 'ListRepositories', { sortBy: 'size' })), 'InvalidSortByException');

    const renamed = unique('renamed');
    await ok(box.url, 'UpdateRepositoryName', { oldName: a, newName: renamed });
    assert.equal(errorCode(await api(box.url, 'GetRepository', { repositoryName: a })), 'RepositoryDoesNotExistException');
    assert.equal(errorCode(await api(box.url, 'UpdateRepositoryName', { oldName: renamed, newName: z })), 'RepositoryNameExistsException');
    await ok(box.url, 'UpdateRepositoryDescription', { repositoryName: renamed, repositoryDescription: 'new words' });
    const got = (await ok(box.url, 'GetRepository', { repositoryName: renamed })).repositoryMetadata;
    assert.equal(got.repositoryDescription, 'new words');
    assert.equal(got.cloneUrlHttp, `${box.url}/v1/repos/${renamed}`);

    const del = await ok(box.url, 'DeleteRepository', { repositoryName: renamed });
    assert.equal(del.repositoryId, got.repositoryId);
    const again = await ok(box.url, 'DeleteRepository', { repositoryName: renamed });
    assert.equal(again.repositoryId, undefined);
  });

  test('TagResource / UntagResource / ListTagsForResource; bad ARN → InvalidResourceArnException', async () => {
    const name = unique('tags');
    const arn = (await ok(box.url, 'CreateRepository', { repositoryName: name })).repositoryMetadata.Arn;
    await ok(box.url, 'TagResource', { resourceArn: arn, tags: { a: '1', b: '2' } });
    await ok(box.url, 'UntagResource', { resourceArn: arn, tagKeys: ['a'] });
    assert.deepEqual((await ok(box.url, 'ListTagsForResource', { resourceArn: arn })).tags, { b: '2' });
    assert.equal(errorCode(await api(box.url, 'TagResource', { resourceArn: 'nope', tags: { a: '1' } })), 'InvalidResourceArnException');
  });

  test('SDK v3: tags follow a rename; a repository deleted and created again under its name starts with no tags', async () => {
    const cc = new CodeCommitClient(clientConfig(box.url));
    const [first, second] = [unique('tagged'), unique('renamed')];
    await cc.send(new CreateRepositoryCommand({ repositoryName: first, tags: { team: 'a', env: 'dev' } }));
    await cc.send(new UpdateRepositoryNameCommand({ oldName: first, newName: second }));
    const reused = await cc.send(new CreateRepositoryCommand({ repositoryName: first }));
    assert.deepEqual((await cc.send(new ListTagsForResourceCommand({ resourceArn: reused.repositoryMetadata!.Arn }))).tags, {});
    const renamedArn = reused.repositoryMetadata!.Arn!.replace(/[^:]+$/, second);
    assert.deepEqual((await cc.send(new ListTagsForResourceCommand({ resourceArn: renamedArn }))).tags, { team: 'a', env: 'dev' });

    await cc.send(new DeleteRepositoryCommand({ repositoryName: second }));
    const again = await cc.send(new CreateRepositoryCommand({ repositoryName: second }));
    assert.deepEqual((await cc.send(new ListTagsForResourceCommand({ resourceArn: again.repositoryMetadata!.Arn }))).tags, {});
    cc.destroy();
  });
});

describe('branches', () => {
  test('CreateBranch / GetBranch / ListBranches / DeleteBranch / UpdateDefaultBranch, with events', async () => {
    const name = unique('br');
    const tip = await seed(name);
    await ok(box.url, 'CreateBranch', { repositoryName: name, branchName: 'dev', commitId: tip });
    assert.equal(
      errorCode(await api(box.url, 'CreateBranch', { repositoryName: name, branchName: 'dev', commitId: tip })),
      'BranchNameExistsException',
    );
    assert.equal(
      errorCode(await api(box.url, 'CreateBranch', { repositoryName: name, branchName: 'x', commitId: 'f'.repeat(40) })),
      'CommitDoesNotExistException',
    );
    assert.equal(
      errorCode(await api(box.url, 'CreateBranch', { repositoryName: name, branchName: 'bad..name', commitId: tip })),
      'InvalidBranchNameException',
    );
    assert.deepEqual((await ok(box.url, 'GetBranch', { repositoryName: name, branchName: 'dev' })).branch, {
      branchName: 'dev',
      commitId: tip,
    });
    assert.deepEqual((await ok(box.url, 'ListBranches', { repositoryName: name })).branches.sort(), ['dev', 'main']);

    assert.equal(
      errorCode(await api(box.url, 'DeleteBranch', { repositoryName: name, branchName: 'main' })),
      'DefaultBranchCannotBeDeletedException',
    );
    await ok(box.url, 'UpdateDefaultBranch', { repositoryName: name, defaultBranchName: 'dev' });
    assert.equal((await ok(box.url, 'GetRepository', { repositoryName: name })).repositoryMetadata.defaultBranch, 'dev');
    const del = await ok(box.url, 'DeleteBranch', { repositoryName: name, branchName: 'main' });
    assert.deepEqual(del.deletedBranch, { branchName: 'main', commitId: tip });

    const mine = () =>
      sink.events.filter((e) => e.detail.repositoryName === name).map((e) => `${e.detail.event}:${e.detail.referenceName}`);
    await sink.waitFor(() => mine().length === 3);
    assert.deepEqual(mine(), ['referenceCreated:main', 'referenceCreated:dev', 'referenceDeleted:main']);
  });
});

describe('files and commits', () => {
  test('PutFile: empty repository needs no parent; then parent required, outdated parent and same content rejected', async () => {
    const name = unique('put');
    await ok(box.url, 'CreateRepository', { repositoryName: name });
    const first = await ok(box.url, 'PutFile', {
      repositoryName: name,
      branchName: 'main',
      filePath: 'a.txt',
      fileContent: b64('one'),
      name: 'Ann',
      email: 'ann@example.com',
      commitMessage: 'add a',
    });
    assert.match(first.commitId, /^[0-9a-f]{40}$/);
    assert.equal(
      errorCode(await api(box.url, 'PutFile', { repositoryName: name, branchName: 'main', filePath: 'b.txt', fileContent: b64('two') })),
      'ParentCommitIdRequiredException',
    );
    const second = await ok(box.url, 'PutFile', {
      repositoryName: name,
      branchName: 'main',
      filePath: 'b.txt',
      fileContent: b64('two'),
      parentCommitId: first.commitId,
    });
    const outdated = await api(box.url, 'PutFile', {
      repositoryName: name,
      branchName: 'main',
      filePath: 'c.txt',
      fileContent: b64('3'),
      parentCommitId: first.commitId,
    });
    assert.equal(errorCode(outdated), 'ParentCommitIdOutdatedException');
    const same = await api(box.url, 'PutFile', {
      repositoryName: name,
      branchName: 'main',
      filePath: 'b.txt',
      fileContent: b64('two'),
      parentCommitId: second.commitId,
    });
    assert.equal(errorCode(same), 'SameFileContentException');
    assert.equal(
      errorCode(
        await api(box.url, 'PutFile', {
          repositoryName: name,
          branchName: 'main',
          filePath: 'e.txt',
          fileContent: '',
          parentCommitId: second.commitId,
        }),
      ),
      'FileContentRequiredException',
    );
    const commit = (await ok(box.url, 'GetCommit', { repositoryName: name, commitId: first.commitId })).commit;
    assert.equal(commit.author.name, 'Ann');
    assert.equal(commit.author.email, 'ann@example.com');
    assert.equal(commit.message, 'add a');
    assert.match(commit.author.date, /^\d+ \+0000$/);
    assert.equal(
      errorCode(await api(box.url, 'GetCommit', { repositoryName: name, commitId: 'a'.repeat(40) })),
      'CommitIdDoesNotExistException',
    );
    const batch = await ok(box.url, 'BatchGetCommits', { repositoryName: name, commitIds: [first.commitId, 'b'.repeat(40)] });
    assert.equal(batch.commits.length, 1);
    assert.equal(batch.errors[0].errorCode, 'CommitDoesNotExistException');
  });

  test('binary files round-trip through PutFile, GetFile (aws CLI) and GetBlob; modes are reported', async () => {
    const name = unique('bin');
    const tip = await seed(name);
    const data = randomBytes(4096);
    const put = await ok(box.url, 'PutFile', {
      repositoryName: name,
      branchName: 'main',
      filePath: 'bin/data.bin',
      fileContent: b64(data),
      fileMode: 'EXECUTABLE',
      parentCommitId: tip,
    });
    const file = await ok(box.url, 'GetFile', { repositoryName: name, filePath: 'bin/data.bin' });
    assert.deepEqual(Buffer.from(file.fileContent, 'base64'), data);
    assert.equal(file.fileMode, 'EXECUTABLE');
    assert.equal(file.fileSize, 4096);
    assert.equal(file.commitId, put.commitId);
    const blob = await ok(box.url, 'GetBlob', { repositoryName: name, blobId: put.blobId });
    assert.deepEqual(Buffer.from(blob.content, 'base64'), data);
    const cli = await awsCli(box.url, [
      'codecommit',
      'get-file',
      '--repository-name',
      name,
      '--file-path',
      'README.md',
      '--commit-specifier',
      tip,
    ]);
    assert.equal(Buffer.from(JSON.parse(cli.stdout).fileContent, 'base64').toString(), 'hello\n');
    assert.equal(errorCode(await api(box.url, 'GetFile', { repositoryName: name, filePath: 'nope.txt' })), 'FileDoesNotExistException');
    assert.equal(
      errorCode(await api(box.url, 'GetFile', { repositoryName: name, filePath: 'README.md', commitSpecifier: 'no-such-branch' })),
      'CommitDoesNotExistException',
    );
  });

  test('path traversal and absolute paths → InvalidPathException, the repository unharmed', async () => {
    const name = unique('trav');
    const tip = await seed(name);
    for (const filePath of ['../x', '/etc/passwd', 'a/../../x', '.git/config', 'a//b', './a']) {
      const r = await api(box.url, 'PutFile', {
        repositoryName: name,
        branchName: 'main',
        filePath,
        fileContent: b64('x'),
        parentCommitId: tip,
      });
      assert.equal(errorCode(r), 'InvalidPathException', filePath);
      const c = await api(box.url, 'CreateCommit', {
        repositoryName: name,
        branchName: 'main',
        parentCommitId: tip,
        deleteFiles: [{ filePath }],
      });
      assert.equal(errorCode(c), 'InvalidPathException', filePath);
    }
    assert.equal((await ok(box.url, 'GetBranch', { repositoryName: name, branchName: 'main' })).branch.commitId, tip);
    const folder = await ok(box.url, 'GetFolder', { repositoryName: name, folderPath: '/' });
    assert.deepEqual(
      folder.files.map((f: any) => f.absolutePath),
      ['README.md'],
    );
  });

  test('CreateCommit: puts, deletes, mode changes and moves; FileEntryRequired, NoChange, parent checks', async () => {
    const name = unique('cc');
    const tip = await seed(name, { 'a.txt': 'a', 'dir/b.txt': 'b', 'dir/sub/c.txt': 'c', 'run.sh': '#!/bin/sh' });
    assert.equal(
      errorCode(await api(box.url, 'CreateCommit', { repositoryName: name, branchName: 'main', parentCommitId: tip })),
      'FileEntryRequiredException',
    );
    assert.equal(
      errorCode(
        await api(box.url, 'CreateCommit', {
          repositoryName: name,
          branchName: 'main',
          parentCommitId: 'c'.repeat(40),
          putFiles: [{ filePath: 'n', fileContent: b64('n') }],
        }),
      ),
      'ParentCommitDoesNotExistException',
    );
    assert.equal(
      errorCode(
        await api(box.url, 'CreateCommit', {
          repositoryName: name,
          branchName: 'main',
          putFiles: [{ filePath: 'n', fileContent: b64('n') }],
        }),
      ),
      'ParentCommitIdRequiredException',
    );
    assert.equal(
      errorCode(
        await api(box.url, 'CreateCommit', {
          repositoryName: name,
          branchName: 'main',
          parentCommitId: tip,
          putFiles: [{ filePath: 'a.txt', fileContent: b64('a') }],
        }),
      ),
      'NoChangeException',
    );
    assert.equal(
      errorCode(
        await api(box.url, 'CreateCommit', {
          repositoryName: name,
          branchName: 'main',
          parentCommitId: tip,
          deleteFiles: [{ filePath: 'ghost.txt' }],
        }),
      ),
      'FileDoesNotExistException',
    );
    assert.equal(
      errorCode(
        await api(box.url, 'CreateCommit', {
          repositoryName: name,
          branchName: 'main',
          parentCommitId: tip,
          putFiles: [{ filePath: 'a.txt/x', fileContent: b64('x') }],
        }),
      ),
      'DirectoryNameConflictsWithFileNameException',
    );
    assert.equal(
      errorCode(
        await api(box.url, 'CreateCommit', {
          repositoryName: name,
          branchName: 'main',
          parentCommitId: tip,
          putFiles: [{ filePath: 'dir', fileContent: b64('x') }],
        }),
      ),
      'FileNameConflictsWithDirectoryNameException',
    );

    const c = await ok(box.url, 'CreateCommit', {
      repositoryName: name,
      branchName: 'main',
      parentCommitId: tip,
      authorName: 'Bo',
      email: 'bo@example.com',
      commitMessage: 'many changes',
      keepEmptyFolders: true,
      putFiles: [
        { filePath: 'new/n.txt', fileContent: b64('n') },
        { filePath: 'a.txt', fileContent: b64('a2') },
        { filePath: 'moved.txt', sourceFile: { filePath: 'dir/b.txt', isMove: true } },
      ],
      deleteFiles: [{ filePath: 'dir/sub/c.txt' }],
      setFileModes: [{ filePath: 'run.sh', fileMode: 'EXECUTABLE' }],
    });
    assert.deepEqual(c.filesAdded.map((f: any) => f.absolutePath).sort(), ['moved.txt', 'new/n.txt']);
    assert.deepEqual(c.filesUpdated.map((f: any) => f.absolutePath).sort(), ['a.txt', 'run.sh']);
    assert.deepEqual(c.filesDeleted.map((f: any) => f.absolutePath).sort(), ['dir/b.txt', 'dir/sub/c.txt']);

    const root = await ok(box.url, 'GetFolder', { repositoryName: name, folderPath: '' });
    assert.deepEqual(root.files.map((f: any) => [f.relativePath, f.fileMode]).sort(), [
      ['a.txt', 'NORMAL'],
      ['moved.txt', 'NORMAL'],
      ['run.sh', 'EXECUTABLE'],
    ]);
    assert.deepEqual(root.subFolders.map((f: any) => f.absolutePath).sort(), ['dir', 'new']);
    // keepEmptyFolders: the emptied folders keep a .gitkeep
    const sub = await ok(box.url, 'GetFolder', { repositoryName: name, folderPath: 'dir/sub' });
    assert.deepEqual(
      sub.files.map((f: any) => f.absolutePath),
      ['dir/sub/.gitkeep'],
    );
    assert.equal(errorCode(await api(box.url, 'GetFolder', { repositoryName: name, folderPath: 'nope' })), 'FolderDoesNotExistException');

    const diff = await ok(box.url, 'GetDifferences', {
      repositoryName: name,
      beforeCommitSpecifier: tip,
      afterCommitSpecifier: c.commitId,
    });
    assert.equal(diff.differences.length, 7);
    const filtered = await ok(box.url, 'GetDifferences', {
      repositoryName: name,
      beforeCommitSpecifier: tip,
      afterCommitSpecifier: 'main',
      beforePath: 'dir',
    });
    assert.deepEqual(filtered.differences.map((d: any) => [d.changeType, (d.beforeBlob ?? d.afterBlob).path]).sort(), [
      ['A', 'dir/sub/.gitkeep'],
      ['D', 'dir/b.txt'],
      ['D', 'dir/sub/c.txt'],
    ]);
    const mode = diff.differences.find((d: any) => d.afterBlob?.path === 'run.sh');
    assert.deepEqual([mode.changeType, mode.beforeBlob.mode, mode.afterBlob.mode], ['M', '100644', '100755']);
    const page1 = await ok(box.url, 'GetDifferences', {
      repositoryName: name,
      beforeCommitSpecifier: tip,
      afterCommitSpecifier: 'main',
      MaxResults: 4,
    });
    const page2 = await ok(box.url, 'GetDifferences', {
      repositoryName: name,
      beforeCommitSpecifier: tip,
      afterCommitSpecifier: 'main',
      MaxResults: 4,
      NextToken: page1.NextToken,
    });
    assert.equal(page1.differences.length + page2.differences.length, 7);
    assert.equal(page2.NextToken, undefined);

    const del = await ok(box.url, 'DeleteFile', {
      repositoryName: name,
      branchName: 'main',
      filePath: 'moved.txt',
      parentCommitId: c.commitId,
    });
    assert.equal(del.filePath, 'moved.txt');
    assert.equal(errorCode(await api(box.url, 'GetFile', { repositoryName: name, filePath: 'moved.txt' })), 'FileDoesNotExistException');
  });
});

describe('concurrent API commits', () => {
  test('PutFile from 12 clients at once: on one parent one commit lands and the rest get ParentCommitIdOutdatedException; on their own branches all land, one event each; git fsck is clean', async () => {
    const name = unique('conc');
    const tip = await seed(name);
    const racers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        api(box.url, 'PutFile', {
          repositoryName: name,
          branchName: 'main',
          parentCommitId: tip,
          filePath: `r${i}.txt`,
          fileContent: b64(`racer ${i}`),
        }),
      ),
    );
    const won = racers.filter((r) => r.status === 200);
    assert.equal(won.length, 1, JSON.stringify(racers.map((r) => r.body.__type ?? r.body.commitId)));
    for (const r of racers) if (r.status !== 200) assert.equal(errorCode(r), 'ParentCommitIdOutdatedException');
    assert.equal((await ok(box.url, 'GetBranch', { repositoryName: name, branchName: 'main' })).branch.commitId, won[0].body.commitId);

    for (let i = 0; i < 12; i++) await ok(box.url, 'CreateBranch', { repositoryName: name, branchName: `b${i}`, commitId: tip });
    const tips = Array.from({ length: 12 }, () => tip);
    await Promise.all(
      tips.map(async (_, i) => {
        for (let k = 0; k < 3; k++) {
          const r = await ok(box.url, 'PutFile', {
            repositoryName: name,
            branchName: `b${i}`,
            parentCommitId: tips[i],
            filePath: `dir${i}/f.txt`,
            fileContent: b64(`${i} ${k}`),
          });
          tips[i] = r.commitId;
        }
      }),
    );
    for (let i = 0; i < 12; i++) {
      assert.equal((await ok(box.url, 'GetBranch', { repositoryName: name, branchName: `b${i}` })).branch.commitId, tips[i]);
      const f = await ok(box.url, 'GetFile', { repositoryName: name, commitSpecifier: `b${i}`, filePath: `dir${i}/f.txt` });
      assert.equal(Buffer.from(f.fileContent, 'base64').toString(), `${i} 2`);
    }
    const updates = () =>
      sink.events.filter(
        (e) => e.detail.repositoryName === name && e.detail.event === 'referenceUpdated' && /^b\d+$/.test(e.detail.referenceName),
      );
    await sink.waitFor(() => updates().length === 36);
    assert.equal(new Set(updates().map((e) => e.detail.commitId)).size, 36);

    const id = (await ok(box.url, 'GetRepository', { repositoryName: name })).repositoryMetadata.repositoryId;
    const gitDir = join(box.dataDir, 'codecommit', '000000000000', 'us-east-1', `${id}.git`);
    execFileSync('git', ['--git-dir', gitDir, 'fsck', '--strict', '--no-dangling'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: box.dataDir, GIT_CONFIG_NOSYSTEM: '1' },
      stdio: 'pipe',
    });
  });
});

describe('merges', () => {
  /** main and feature both change conflict.txt; feature also adds f.txt. */
  async function diverged(name: string) {
    const base = await seed(name, { 'conflict.txt': 'base\n', 'shared.txt': 'x\n' });
    await ok(box.url, 'CreateBranch', { repositoryName: name, branchName: 'feature', commitId: base });
    const f = await ok(box.url, 'CreateCommit', {
      repositoryName: name,
      branchName: 'feature',
      parentCommitId: base,
      putFiles: [
        { filePath: 'conflict.txt', fileContent: b64('feature\n') },
        { filePath: 'f.txt', fileContent: b64('f\n') },
      ],
    });
    const m = await ok(box.url, 'PutFile', {
      repositoryName: name,
      branchName: 'main',
      filePath: 'conflict.txt',
      fileContent: b64('main\n'),
      parentCommitId: base,
    });
    return { base, feature: f.commitId as string, main: m.commitId as string };
  }

  test('MergeBranchesByFastForward: diverged → ManualMergeRequiredException; fast-forwardable → moves the branch', async () => {
    const name = unique('ff');
    const { main } = await diverged(name);
    const r = await api(box.url, 'MergeBranchesByFastForward', {
      repositoryName: name,
      sourceCommitSpecifier: 'feature',
      destinationCommitSpecifier: 'main',
    });
    assert.equal(errorCode(r), 'ManualMergeRequiredException');
    await ok(box.url, 'CreateBranch', { repositoryName: name, branchName: 'ahead', commitId: main });
    const ahead = await ok(box.url, 'PutFile', {
      repositoryName: name,
      branchName: 'ahead',
      filePath: 'z.txt',
      fileContent: b64('z'),
      parentCommitId: main,
    });
    const ff = await ok(box.url, 'MergeBranchesByFastForward', {
      repositoryName: name,
      sourceCommitSpecifier: 'ahead',
      destinationCommitSpecifier: 'main',
    });
    assert.equal(ff.commitId, ahead.commitId);
    assert.equal((await ok(box.url, 'GetBranch', { repositoryName: name, branchName: 'main' })).branch.commitId, ahead.commitId);
  });

  test('three-way merge with a conflict: GetMergeConflicts lists it, ThreeWay → ManualMergeRequiredException, ACCEPT_SOURCE resolves it', async () => {
    const name = unique('3way');
    const { feature, main } = await diverged(name);
    const opts = await ok(box.url, 'GetMergeOptions', {
      repositoryName: name,
      sourceCommitSpecifier: 'feature',
      destinationCommitSpecifier: 'main',
    });
    assert.deepEqual(opts.mergeOptions, []);
    const conflicts = await ok(box.url, 'GetMergeConflicts', {
      repositoryName: name,
      sourceCommitSpecifier: 'feature',
      destinationCommitSpecifier: 'main',
      mergeOption: 'THREE_WAY_MERGE',
    });
    assert.equal(conflicts.mergeable, false);
    assert.deepEqual(
      conflicts.conflictMetadataList.map((c: any) => [
        c.filePath,
        c.contentConflict,
        c.mergeOperations.source,
        c.mergeOperations.destination,
      ]),
      [['conflict.txt', true, 'M', 'M']],
    );

    const r = await api(box.url, 'MergeBranchesByThreeWay', {
      repositoryName: name,
      sourceCommitSpecifier: 'feature',
      destinationCommitSpecifier: 'main',
    });
    assert.equal(errorCode(r), 'ManualMergeRequiredException');
    assert.equal((await ok(box.url, 'GetBranch', { repositoryName: name, branchName: 'main' })).branch.commitId, main);

    const merged = await ok(box.url, 'MergeBranchesByThreeWay', {
      repositoryName: name,
      sourceCommitSpecifier: 'feature',
      destinationCommitSpecifier: 'main',
      conflictResolutionStrategy: 'ACCEPT_SOURCE',
      commitMessage: 'merge it',
    });
    const commit = (await ok(box.url, 'GetCommit', { repositoryName: name, commitId: merged.commitId })).commit;
    assert.deepEqual(commit.parents, [main, feature]);
    const file = await ok(box.url, 'GetFile', { repositoryName: name, filePath: 'conflict.txt' });
    assert.equal(Buffer.from(file.fileContent, 'base64').toString(), 'feature\n');
    const ev = sink.events.filter((e) => e.detail.repositoryName === name && e.detail.commitId === merged.commitId);
    await sink.waitFor(() => sink.events.some((e) => e.detail.repositoryName === name && e.detail.commitId === merged.commitId));
    void ev;
  });

  test('squash merge without conflicts: one parent, source changes on the destination', async () => {
    const name = unique('squash');
    const base = await seed(name, { 'a.txt': 'a\n' });
    await ok(box.url, 'CreateBranch', { repositoryName: name, branchName: 'feature', commitId: base });
    const f1 = await ok(box.url, 'PutFile', {
      repositoryName: name,
      branchName: 'feature',
      filePath: 'f1.txt',
      fileContent: b64('1'),
      parentCommitId: base,
    });
    await ok(box.url, 'PutFile', {
      repositoryName: name,
      branchName: 'feature',
      filePath: 'f2.txt',
      fileContent: b64('2'),
      parentCommitId: f1.commitId,
    });
    const m = await ok(box.url, 'PutFile', {
      repositoryName: name,
      branchName: 'main',
      filePath: 'm.txt',
      fileContent: b64('m'),
      parentCommitId: base,
    });
    const opts = await ok(box.url, 'GetMergeOptions', {
      repositoryName: name,
      sourceCommitSpecifier: 'feature',
      destinationCommitSpecifier: 'main',
    });
    assert.deepEqual(opts.mergeOptions, ['SQUASH_MERGE', 'THREE_WAY_MERGE']);
    assert.equal(opts.baseCommitId, base);
    const s = await ok(box.url, 'MergeBranchesBySquash', {
      repositoryName: name,
      sourceCommitSpecifier: 'feature',
      destinationCommitSpecifier: 'main',
    });
    const commit = (await ok(box.url, 'GetCommit', { repositoryName: name, commitId: s.commitId })).commit;
    assert.deepEqual(commit.parents, [m.commitId]);
    const root = await ok(box.url, 'GetFolder', { repositoryName: name, folderPath: '/' });
    assert.deepEqual(root.files.map((f: any) => f.absolutePath).sort(), ['a.txt', 'f1.txt', 'f2.txt', 'm.txt']);
  });
});

describe('pull requests', () => {
  test('CreatePullRequest → approve by another user → EvaluatePullRequestApprovalRules → MergePullRequestBySquash; events and history', async () => {
    const name = unique('pr');
    const base = await seed(name);
    await ok(box.url, 'CreateBranch', { repositoryName: name, branchName: 'feature/x', commitId: base });
    const src = await ok(box.url, 'PutFile', {
      repositoryName: name,
      branchName: 'feature/x',
      filePath: 'x.txt',
      fileContent: b64('x'),
      parentCommitId: base,
    });

    const token = unique('tok');
    const created = (
      await ok(box.url, 'CreatePullRequest', {
        title: 'Add x',
        description: 'adds x',
        clientRequestToken: token,
        targets: [{ repositoryName: name, sourceReference: 'feature/x', destinationReference: 'main' }],
      })
    ).pullRequest;
    assert.match(created.pullRequestId, /^\d+$/);
    assert.equal(created.pullRequestStatus, 'OPEN');
    assert.deepEqual(
      [
        created.pullRequestTargets[0].sourceReference,
        created.pullRequestTargets[0].destinationReference,
        created.pullRequestTargets[0].sourceCommit,
        created.pullRequestTargets[0].mergeBase,
      ],
      ['refs/heads/feature/x', 'refs/heads/main', src.commitId, base],
    );
    const again = (
      await ok(box.url, 'CreatePullRequest', {
        title: 'Add x',
        clientRequestToken: token,
        targets: [{ repositoryName: name, sourceReference: 'feature/x' }],
      })
    ).pullRequest;
    assert.equal(again.pullRequestId, created.pullRequestId);
    const id = created.pullRequestId;

    await ok(box.url, 'UpdatePullRequestTitle', { pullRequestId: id, title: 'Add x, please' });
    await ok(box.url, 'UpdatePullRequestDescription', { pullRequestId: id, description: 'better words' });
    const rule = await ok(box.url, 'CreatePullRequestApprovalRule', {
      pullRequestId: id,
      approvalRuleName: 'one-approver',
      approvalRuleContent: JSON.stringify({ Version: '2018-11-08', Statements: [{ Type: 'Approvers', NumberOfApprovalsNeeded: 1 }] }),
    });
    assert.match(rule.approvalRule.ruleContentSha256, /^[0-9a-f]{64}$/);

    const pr = (await ok(box.url, 'GetPullRequest', { pullRequestId: id })).pullRequest;
    assert.equal(pr.title, 'Add x, please');
    assert.equal(pr.description, 'better words');
    let evaluation = (await ok(box.url, 'EvaluatePullRequestApprovalRules', { pullRequestId: id, revisionId: pr.revisionId })).evaluation;
    assert.deepEqual(evaluation, {
      approved: false,
      overridden: false,
      approvalRulesSatisfied: [],
      approvalRulesNotSatisfied: ['one-approver'],
    });
    const blocked = await api(box.url, 'MergePullRequestBySquash', { pullRequestId: id, repositoryName: name });
    assert.equal(errorCode(blocked), 'PullRequestApprovalRulesNotSatisfiedException');
    assert.equal(
      errorCode(
        await api(box.url, 'UpdatePullRequestApprovalState', { pullRequestId: id, revisionId: pr.revisionId, approvalState: 'APPROVE' }),
      ),
      'PullRequestCannotBeApprovedByAuthorException',
    );

    const iam = new IAMClient(clientConfig(box.url));
    const user = unique('reviewer');
    await iam.send(new CreateUserCommand({ UserName: user }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;
    await ok(
      box.url,
      'UpdatePullRequestApprovalState',
      { pullRequestId: id, revisionId: pr.revisionId, approvalState: 'APPROVE' },
      key.AccessKeyId,
    );
    const states = await ok(box.url, 'GetPullRequestApprovalStates', { pullRequestId: id, revisionId: pr.revisionId });
    assert.deepEqual(states.approvals, [{ userArn: `arn:aws:iam::000000000000:user/${user}`, approvalState: 'APPROVE' }]);
    evaluation = (await ok(box.url, 'EvaluatePullRequestApprovalRules', { pullRequestId: id, revisionId: pr.revisionId })).evaluation;
    assert.equal(evaluation.approved, true);

    await ok(box.url, 'PostCommentForPullRequest', {
      pullRequestId: id,
      repositoryName: name,
      beforeCommitId: base,
      afterCommitId: src.commitId,
      content: 'looks good',
      location: { filePath: 'x.txt', filePosition: 1, relativeFileVersion: 'AFTER' },
    });
    const comments = await ok(box.url, 'GetCommentsForPullRequest', { pullRequestId: id });
    assert.equal(comments.commentsForPullRequestData[0].comments[0].content, 'looks good');
    assert.equal(comments.commentsForPullRequestData[0].location.filePath, 'x.txt');

    assert.equal(
      errorCode(await api(box.url, 'MergePullRequestBySquash', { pullRequestId: id, repositoryName: name, sourceCommitId: base })),
      'TipOfSourceReferenceIsDifferentException',
    );
    const merged = (await ok(box.url, 'MergePullRequestBySquash', { pullRequestId: id, repositoryName: name, commitMessage: 'squashed' }))
      .pullRequest;
    assert.equal(merged.pullRequestStatus, 'CLOSED');
    assert.equal(merged.pullRequestTargets[0].mergeMetadata.isMerged, true);
    assert.equal(merged.pullRequestTargets[0].mergeMetadata.mergeOption, 'SQUASH_MERGE');
    const main = (await ok(box.url, 'GetBranch', { repositoryName: name, branchName: 'main' })).branch.commitId;
    assert.equal(merged.pullRequestTargets[0].mergeMetadata.mergeCommitId, main);

    const history = (await ok(box.url, 'DescribePullRequestEvents', { pullRequestId: id })).pullRequestEvents.map(
      (e: any) => e.pullRequestEventType,
    );
    assert.deepEqual(history, [
      'PULL_REQUEST_CREATED',
      'PULL_REQUEST_APPROVAL_RULE_CREATED',
      'PULL_REQUEST_APPROVAL_STATE_CHANGED',
      'PULL_REQUEST_MERGE_STATE_CHANGED',
    ]);
    const closed = await ok(box.url, 'ListPullRequests', { repositoryName: name, pullRequestStatus: 'CLOSED' });
    assert.deepEqual(closed.pullRequestIds, [id]);
    assert.deepEqual((await ok(box.url, 'ListPullRequests', { repositoryName: name, pullRequestStatus: 'OPEN' })).pullRequestIds, []);

    const prEvents = () =>
      sink.events.filter(
        (e) =>
          e['detail-type'] === 'CodeCommit Pull Request State Change' &&
          e.detail.pullRequestId === id &&
          e.detail.repositoryNames[0] === name,
      );
    await sink.waitFor(() => prEvents().some((e) => e.detail.event === 'pullRequestMergeStatusUpdated'));
    assert.equal(prEvents()[0].detail.event, 'pullRequestCreated');
    assert.equal(prEvents()[0].detail.pullRequestStatus, 'Open');
  });

  test('a pull request follows pushes: new source revision, then merged when the destination contains it; fast-forward merge; status rules', async () => {
    const name = unique('pr2');
    const base = await seed(name);
    await ok(box.url, 'CreateBranch', { repositoryName: name, branchName: 'f', commitId: base });
    const c1 = await ok(box.url, 'PutFile', {
      repositoryName: name,
      branchName: 'f',
      filePath: 'f.txt',
      fileContent: b64('1'),
      parentCommitId: base,
    });
    const pr = (await ok(box.url, 'CreatePullRequest', { title: 'f', targets: [{ repositoryName: name, sourceReference: 'f' }] }))
      .pullRequest;
    const c2 = await ok(box.url, 'PutFile', {
      repositoryName: name,
      branchName: 'f',
      filePath: 'f.txt',
      fileContent: b64('2'),
      parentCommitId: c1.commitId,
    });
    const updated = (await ok(box.url, 'GetPullRequest', { pullRequestId: pr.pullRequestId })).pullRequest;
    assert.equal(updated.pullRequestTargets[0].sourceCommit, c2.commitId);
    assert.notEqual(updated.revisionId, pr.revisionId);
    const ff = (await ok(box.url, 'MergePullRequestByFastForward', { pullRequestId: pr.pullRequestId, repositoryName: name })).pullRequest;
    assert.equal(ff.pullRequestTargets[0].mergeMetadata.mergeCommitId, c2.commitId);
    assert.equal(
      errorCode(await api(box.url, 'UpdatePullRequestStatus', { pullRequestId: pr.pullRequestId, pullRequestStatus: 'OPEN' })),
      'InvalidPullRequestStatusUpdateException',
    );
    assert.equal(errorCode(await api(box.url, 'GetPullRequest', { pullRequestId: '999999' })), 'PullRequestDoesNotExistException');

    // a PR whose source gets merged by a plain branch merge is marked merged
    await ok(box.url, 'CreateBranch', { repositoryName: name, branchName: 'g', commitId: c2.commitId });
    await ok(box.url, 'PutFile', {
      repositoryName: name,
      branchName: 'g',
      filePath: 'g.txt',
      fileContent: b64('g'),
      parentCommitId: c2.commitId,
    });
    const pr2 = (
      await ok(box.url, 'CreatePullRequest', {
        title: 'g',
        targets: [{ repositoryName: name, sourceReference: 'g', destinationReference: 'main' }],
      })
    ).pullRequest;
    await ok(box.url, 'MergeBranchesByFastForward', {
      repositoryName: name,
      sourceCommitSpecifier: 'g',
      destinationCommitSpecifier: 'main',
    });
    const after2 = (await ok(box.url, 'GetPullRequest', { pullRequestId: pr2.pullRequestId })).pullRequest;
    assert.equal(after2.pullRequestStatus, 'CLOSED');
    assert.equal(after2.pullRequestTargets[0].mergeMetadata.isMerged, true);

    const pr3base = (await ok(box.url, 'GetBranch', { repositoryName: name, branchName: 'main' })).branch.commitId;
    await ok(box.url, 'CreateBranch', { repositoryName: name, branchName: 'h', commitId: pr3base });
    await ok(box.url, 'PutFile', {
      repositoryName: name,
      branchName: 'h',
      filePath: 'h.txt',
      fileContent: b64('h'),
      parentCommitId: pr3base,
    });
    const pr3 = (await ok(box.url, 'CreatePullRequest', { title: 'h', targets: [{ repositoryName: name, sourceReference: 'h' }] }))
      .pullRequest;
    const closed = (await ok(box.url, 'UpdatePullRequestStatus', { pullRequestId: pr3.pullRequestId, pullRequestStatus: 'CLOSED' }))
      .pullRequest;
    assert.equal(closed.pullRequestStatus, 'CLOSED');
    assert.equal(
      errorCode(await api(box.url, 'MergePullRequestByThreeWay', { pullRequestId: pr3.pullRequestId, repositoryName: name })),
      'PullRequestAlreadyClosedException',
    );
  });
});

describe('triggers', () => {
  test('PutRepositoryTriggers / GetRepositoryTriggers / TestRepositoryTriggers: SNS destination succeeds, unknown destination fails', async () => {
    const name = unique('trig');
    await seed(name);
    const topic = JSON.parse((await awsCli(box.url, ['sns', 'create-topic', '--name', unique('t')])).stdout).TopicArn;
    const triggers = [
      { name: 'to-sns', destinationArn: topic, events: ['all'], branches: [] },
      {
        name: 'nowhere',
        destinationArn: 'arn:aws:lambda:us-east-1:000000000000:function:none',
        events: ['createReference'],
        branches: ['main'],
      },
    ];
    const put = await ok(box.url, 'PutRepositoryTriggers', { repositoryName: name, triggers });
    assert.match(put.configurationId, /^[0-9a-f-]{36}$/);
    const got = await ok(box.url, 'GetRepositoryTriggers', { repositoryName: name });
    assert.equal(got.configurationId, put.configurationId);
    assert.deepEqual(
      got.triggers.map((t: any) => t.name),
      ['to-sns', 'nowhere'],
    );
    const tested = await ok(box.url, 'TestRepositoryTriggers', { repositoryName: name, triggers });
    assert.deepEqual(tested.successfulExecutions, ['to-sns']);
    assert.deepEqual(
      tested.failedExecutions.map((f: any) => f.trigger),
      ['nowhere'],
    );
    const bad = await api(box.url, 'PutRepositoryTriggers', {
      repositoryName: name,
      triggers: [{ name: 'x', destinationArn: topic, events: ['push'] }],
    });
    assert.equal(errorCode(bad), 'InvalidRepositoryTriggerEventsException');
  });
});
