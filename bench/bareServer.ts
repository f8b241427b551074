/**
 * "The limit": a bare node:http server that reads the request body and answers a canned STS
 * GetCallerIdentity response. Run as a child process by the bench: node bareServer.js PORT
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

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  req.resume();
  req.on('end', () => {
    const id = randomUUID();
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
