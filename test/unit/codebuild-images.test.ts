/** OPSBOX_CODEBUILD_IMAGE: every curated image to one local image, after the more specific settings. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { imageHint, resolveImage } from '../../src/services/codebuild/build/backends/images.js';

test('OPSBOX_CODEBUILD_IMAGE maps every curated image, never another name, and loses to a per-image setting', () => {
  const env = { OPSBOX_CODEBUILD_IMAGE: 'localhost/my-build:1', OPSBOX_CODEBUILD_IMAGE_AWS_CODEBUILD_STANDARD_6_0: 'local/std6' };
  assert.equal(resolveImage('aws/codebuild/standard:7.0', {}, env), 'localhost/my-build:1');
  assert.equal(resolveImage('aws/codebuild/amazonlinux-x86_64-standard:5.0', {}, env), 'localhost/my-build:1');
  assert.equal(resolveImage('aws/codebuild/standard:6.0', {}, env), 'local/std6');
  assert.equal(resolveImage('node:20', {}, env), 'node:20');
  assert.match(imageHint('aws/codebuild/standard:7.0', 'aws/codebuild/standard:7.0'), /OPSBOX_CODEBUILD_IMAGE=<image>/);
  assert.doesNotMatch(imageHint('node:20', 'node:20'), /OPSBOX_CODEBUILD_IMAGE=<image>/);
});
