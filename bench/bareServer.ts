/**
 * "The limit": a bare node:http server that reads the request body and answers a canned STS
 * GetCallerIdentity response — or, for CodeCommit's X-Amz-Target, a canned GetFile (a 1.5 KB file)
 * or GetBranch answer, so an SDK client's own ceiling can be measured against it.
 * Run as a child process by the bench: node bareServer.js PORT
 */
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';

const BODY = `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::000000000000:root</Arn>
    <UserId>000000000000</UserId>
    <Account>000000000000</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>REQUEST_ID</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>`;

const COMMIT = 'c'.repeat(40);
const CODECOMMIT: Record<string, string> = {
  GetFile: JSON.stringify({
    commitId: COMMIT,
    blobId: 'b'.repeat(40),
    filePath: 'src/m0/file0.ts',
    fileMode: 'NORMAL',
    fileSize: 1120,
    fileContent: Buffer.alloc(1120, 'x').toString('base64'),
  }),
  GetBranch: JSON.stringify({ branch: { branchName: 'main', commitId: COMMIT } }),
};

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  req.resume();
  req.on('end', () => {
    const id = randomUUID();
    const target = String(req.headers['x-amz-target'] ?? '');
    if (target.startsWith('CodeCommit_20150413.')) {
      const body = CODECOMMIT[target.slice(20)] ?? '{}';
      res.writeHead(200, {
        'Content-Type': 'application/x-amz-json-1.1',
        'Content-Length': Buffer.byteLength(body),
        'x-amzn-RequestId': id,
      });
      return res.end(body);
    }
    const body = BODY.replace('REQUEST_ID', id);
    res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body), 'x-amzn-RequestId': id });
    res.end(body);
  });
});
server.listen(Number(process.argv[2]), '127.0.0.1');
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
