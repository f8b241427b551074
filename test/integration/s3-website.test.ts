/**
 * S3 static website hosting against a real opsbox process: Put/Get/DeleteBucketWebsite with SDK v3
 * and the aws CLI (AWS's validation errors), and the website endpoint fetched over HTTP, by Host
 * header (<bucket>.s3-website.localhost and the regional forms) and by the /_s3-website/ path:
 * index and error documents, the 302 to a directory's slash, routing rules, redirects.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketWebsiteCommand,
  GetBucketWebsiteCommand,
  PutBucketWebsiteCommand,
  PutObjectCommand,
  S3Client,
  type WebsiteConfiguration,
} from '@aws-sdk/client-s3';
import { awsCli, clientConfig, failure, startOpsbox, unique, type RunningOpsbox } from '../helpers/opsbox.js';

let box: RunningOpsbox;
let s3: S3Client;

before(async () => {
  box = await startOpsbox();
  s3 = new S3Client({ ...clientConfig(box.url), forcePathStyle: true });
});
after(async () => {
  s3?.destroy();
  await box?.dispose();
});

interface Page {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to 127.0.0.1 with the given Host header, as a browser resolving *.localhost would send it. */
function fetchHost(host: string, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<Page> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: box.port, path, method, headers: { host: `${host}:${box.port}`, ...headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const put = (Bucket: string, Key: string, Body: string, extra: Partial<ConstructorParameters<typeof PutObjectCommand>[0]> = {}) =>
  s3.send(new PutObjectCommand({ Bucket, Key, Body, ContentType: 'text/html', ...extra }));

async function site(config: WebsiteConfiguration) {
  const bucket = unique('site');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketWebsiteCommand({ Bucket: bucket, WebsiteConfiguration: config }));
  return bucket;
}

describe('website configuration', () => {
  test('Put/Get/DeleteBucketWebsite round-trip; Get without one is NoSuchWebsiteConfiguration', async () => {
    const config: WebsiteConfiguration = {
      IndexDocument: { Suffix: 'index.html' },
      ErrorDocument: { Key: 'error.html' },
      RoutingRules: [
        { Condition: { KeyPrefixEquals: 'docs/' }, Redirect: { ReplaceKeyPrefixWith: 'documents/', HttpRedirectCode: '302' } },
        { Condition: { HttpErrorCodeReturnedEquals: '404' }, Redirect: { HostName: 'example.com', Protocol: 'https' } },
      ],
    };
    const bucket = await site(config);
    const got = await s3.send(new GetBucketWebsiteCommand({ Bucket: bucket }));
    assert.deepEqual(got.IndexDocument, config.IndexDocument);
    assert.deepEqual(got.ErrorDocument, config.ErrorDocument);
    assert.deepEqual(got.RoutingRules, config.RoutingRules);
    await s3.send(new DeleteBucketWebsiteCommand({ Bucket: bucket }));
    const e = await failure(s3.send(new GetBucketWebsiteCommand({ Bucket: bucket })));
    assert.equal(e.name, 'NoSuchWebsiteConfiguration');
    assert.equal(e.status, 404);
    assert.equal(e.message, 'The specified bucket does not have a website configuration');
  });

  test("AWS's validation errors", async () => {
    const bucket = unique('site');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const refused = async (WebsiteConfiguration: WebsiteConfiguration, name: string, message: string) => {
      const e = await failure(s3.send(new PutBucketWebsiteCommand({ Bucket: bucket, WebsiteConfiguration })));
      assert.equal(e.name, name, e.message);
      assert.equal(e.status, 400);
      assert.equal(e.message, message);
    };
    await refused({}, 'InvalidArgument', 'A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty');
    await refused({ IndexDocument: { Suffix: 'a/index.html' } }, 'InvalidArgument', 'The IndexDocument Suffix is not well formed');
    await refused(
      { IndexDocument: { Suffix: 'index.html' }, RedirectAllRequestsTo: { HostName: 'example.com' } },
      'InvalidArgument',
      'RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.',
    );
    await refused(
      { IndexDocument: { Suffix: 'index.html' }, RoutingRules: [{ Redirect: { ReplaceKeyWith: 'a', ReplaceKeyPrefixWith: 'b' } }] },
      'InvalidRequest',
      'You can only define ReplaceKeyPrefix or ReplaceKey but not both.',
    );
    await refused(
      { IndexDocument: { Suffix: 'index.html' }, RoutingRules: [{ Redirect: { HttpRedirectCode: '200' } }] },
      'InvalidRequest',
      'The provided HTTP redirect code (200) is not valid. Valid codes are 3XX except 300.',
    );
    await refused(
      { IndexDocument: { Suffix: 'index.html' }, RoutingRules: [{ Condition: {}, Redirect: { HostName: 'example.com' } }] },
      'InvalidRequest',
      "Condition cannot be empty. To redirect all requests without a condition, the condition element shouldn't be present.",
    );
    await refused(
      { RedirectAllRequestsTo: { HostName: 'example.com', Protocol: 'ftp' as never } },
      'InvalidRequest',
      'Invalid protocol, protocol can be http or https. If not defined the protocol will be selected automatically.',
    );
    const e = await failure(s3.send(new GetBucketWebsiteCommand({ Bucket: bucket })));
    assert.equal(e.name, 'NoSuchWebsiteConfiguration');
  });

  test('the aws CLI: s3 website and s3api get-bucket-website', async () => {
    const bucket = unique('site');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const r = await awsCli(box.url, ['s3', 'website', `s3://${bucket}`, '--index-document', 'index.html', '--error-document', '404.html']);
    assert.equal(r.code, 0, r.stderr);
    const got = await awsCli(box.url, ['s3api', 'get-bucket-website', '--bucket', bucket]);
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual(JSON.parse(got.stdout), { IndexDocument: { Suffix: 'index.html' }, ErrorDocument: { Key: '404.html' } });
    const none = await awsCli(box.url, ['s3api', 'put-bucket-website', '--bucket', bucket, '--website-configuration', '{}']);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /\(InvalidArgument\).*A value for IndexDocument Suffix must be provided/);
  });
});

describe('website endpoint', () => {
  let bucket: string;
  let host: string;
  before(async () => {
    bucket = await site({
      IndexDocument: { Suffix: 'index.html' },
      ErrorDocument: { Key: 'error.html' },
      RoutingRules: [
        { Condition: { KeyPrefixEquals: 'old/' }, Redirect: { ReplaceKeyPrefixWith: 'docs/', HttpRedirectCode: '302' } },
        {
          Condition: { KeyPrefixEquals: 'gone/', HttpErrorCodeReturnedEquals: '404' },
          Redirect: { HostName: 'example.com', ReplaceKeyWith: 'moved.html' },
        },
      ],
    });
    host = `${bucket}.s3-website.localhost`;
    await put(bucket, 'index.html', '<h1>home</h1>');
    await put(bucket, 'docs/index.html', '<h1>docs</h1>');
    await put(bucket, 'docs/page one.html', '<p>one</p>', { CacheControl: 'max-age=60' });
    await put(bucket, 'error.html', '<h1>not here</h1>');
    await put(bucket, 'style.css', 'body{}', { ContentType: 'text/css' });
    await put(bucket, 'legacy.html', '', { WebsiteRedirectLocation: '/docs/' });
  });

  test('"/" and "dir/" serve the index document; objects keep their headers', async () => {
    const home = await fetchHost(host, '/');
    assert.equal(home.status, 200);
    assert.equal(home.body, '<h1>home</h1>');
    assert.equal(home.headers['content-type'], 'text/html');
    assert.ok(home.headers.etag);
    const docs = await fetchHost(host, '/docs/');
    assert.equal(docs.status, 200);
    assert.equal(docs.body, '<h1>docs</h1>');
    const css = await fetchHost(host, '/style.css');
    assert.equal(css.headers['content-type'], 'text/css');
    assert.equal(css.body, 'body{}');
    const page = await fetchHost(host, '/docs/page%20one.html');
    assert.equal(page.status, 200);
    assert.equal(page.body, '<p>one</p>');
    assert.equal(page.headers['cache-control'], 'max-age=60');
    const head = await fetchHost(host, '/docs/', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String('<h1>docs</h1>'.length));
    assert.equal(head.body, '');
    const notModified = await fetchHost(host, '/', 'GET', { 'if-none-match': String(home.headers.etag) });
    assert.equal(notModified.status, 304);
  });

  test('"dir" without its slash is a 302 to "dir/" when dir/index.html exists', async () => {
    const r = await fetchHost(host, '/docs');
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, '/docs/');
  });

  test('a missing key serves the error document with status 404', async () => {
    const r = await fetchHost(host, '/nope.html');
    assert.equal(r.status, 404);
    assert.equal(r.body, '<h1>not here</h1>');
    assert.equal(r.headers['content-type'], 'text/html');
  });

  test('routing rules: a key prefix redirects before the lookup, an error code after it', async () => {
    const moved = await fetchHost(host, '/old/a.html');
    assert.equal(moved.status, 302);
    assert.equal(moved.headers.location, `http://${host}:${box.port}/docs/a.html`);
    const gone = await fetchHost(host, '/gone/x.html');
    assert.equal(gone.status, 301);
    assert.equal(gone.headers.location, 'http://example.com/moved.html');
  });

  test("an object's x-amz-website-redirect-location is a 301", async () => {
    const r = await fetchHost(host, '/legacy.html');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, '/docs/');
  });

  test('the regional host forms name the same site', async () => {
    for (const h of [`${bucket}.s3-website-us-east-1.localhost`, `${bucket}.s3-website.us-east-1.localhost`]) {
      const r = await fetchHost(h, '/');
      assert.equal(r.status, 200, h);
      assert.equal(r.body, '<h1>home</h1>');
    }
  });

  test('HTML errors: NoSuchWebsiteConfiguration, NoSuchBucket, MethodNotAllowed, a missing error document', async () => {
    const plain = unique('plain');
    await s3.send(new CreateBucketCommand({ Bucket: plain }));
    const r = await fetchHost(`${plain}.s3-website.localhost`, '/');
    assert.equal(r.status, 404);
    assert.match(String(r.headers['content-type']), /^text\/html/);
    assert.match(r.body, /<li>Code: NoSuchWebsiteConfiguration<\/li>/);
    assert.match(r.body, new RegExp(`<li>BucketName: ${plain}</li>`));
    const missing = await fetchHost(`${unique('absent')}.s3-website.localhost`, '/');
    assert.equal(missing.status, 404);
    assert.match(missing.body, /<li>Code: NoSuchBucket<\/li>/);
    const post = await fetchHost(host, '/', 'POST');
    assert.equal(post.status, 405);
    assert.match(post.body, /<li>Code: MethodNotAllowed<\/li>/);

    const noDoc = await site({ IndexDocument: { Suffix: 'index.html' }, ErrorDocument: { Key: 'missing-404.html' } });
    const nf = await fetchHost(`${noDoc}.s3-website.localhost`, '/x');
    assert.equal(nf.status, 404);
    assert.match(nf.body, /<li>Code: NoSuchKey<\/li>\n<li>Message: The specified key does not exist.<\/li>\n<li>Key: x<\/li>/);
    assert.match(nf.body, /An Error Occurred While Attempting to Retrieve a Custom Error Document[\s\S]*<li>Key: missing-404.html<\/li>/);
  });

  test('the path form /_s3-website/<bucket>/ serves the same site (fetch)', async () => {
    const base = `${box.url}/_s3-website/${bucket}`;
    const root = await fetch(`${base}`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), `/_s3-website/${bucket}/`);
    const home = await fetch(`${base}/`);
    assert.equal(home.status, 200);
    assert.equal(await home.text(), '<h1>home</h1>');
    const dir = await fetch(`${base}/docs`, { redirect: 'manual' });
    assert.equal(dir.status, 302);
    assert.equal(dir.headers.get('location'), `/_s3-website/${bucket}/docs/`);
    const followed = await fetch(`${base}/docs`);
    assert.equal(await followed.text(), '<h1>docs</h1>');
    const nf = await fetch(`${base}/nope`);
    assert.equal(nf.status, 404);
    assert.equal(await nf.text(), '<h1>not here</h1>');
    const moved = await fetch(`${base}/old/x`, { redirect: 'manual' });
    assert.equal(moved.headers.get('location'), `http://127.0.0.1:${box.port}/_s3-website/${bucket}/docs/x`);
  });

  test('RedirectAllRequestsTo sends every request to the other host, path kept', async () => {
    const b = await site({ RedirectAllRequestsTo: { HostName: 'www.example.com', Protocol: 'https' } });
    const r = await fetchHost(`${b}.s3-website.localhost`, '/a/b.html');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, 'https://www.example.com/a/b.html');
  });

  test('signed S3 API requests are not the website', async () => {
    // a normal SDK GetObject on the same bucket still goes to the S3 API
    const got = await awsCli(box.url, ['s3', 'cp', `s3://${bucket}/index.html`, '-']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, '<h1>home</h1>');
  });
});
