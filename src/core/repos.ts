/**
 * Where builds and pipelines find a CodeCommit repository's git directory to clone or read
 * commits from, without reading CodeCommit's tables: CodeCommit installs the resolver.
 */
export interface GitRepository {
  name: string;
  arn: string;
  /** The bare repository on disk; clone it or run git against it, never write to it. */
  gitDir: string;
  defaultBranch?: string;
}

export type RepoResolver = (account: string, region: string, name: string) => GitRepository | undefined;

export class GitRepos {
  private resolver: RepoResolver | undefined;

  install(resolver: RepoResolver) {
    this.resolver = resolver;
  }

  resolve(account: string, region: string, name: string) {
    return this.resolver?.(account, region, name);
  }
}
