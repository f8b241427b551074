/**
 * A large JSON PutMetricData, read into bucket rows (ServiceSpec.offload: in a worker thread when
 * the event loop has other clients, inline otherwise), so the handler only resolves metric ids and
 * logs ~one row per (metric, minute). The body is read by putDecoder.ts's single pass when it can,
 * else parsed, validated as the gateway would, checked as the handler would, and folded. Errors
 * are the same AwsErrors (a worker's are rethrown on the event loop).
 */
import { validateInput } from '../../../gateway/validate.js';
import { loadModel } from '../../../model/model.js';
import { parseJsonBody } from '../../../protocol/awsJson.js';
import { fromJson } from '../../../protocol/jsonValues.js';
import type { PutMetricDataInput } from '../api.generated.js';
import { checkPut, foldBuckets, type Datum, type PreparedPut } from '../ingest/fold.js';
import { cloudwatchModelId, cloudwatchPatch } from '../patch.js';
import { decodePutMetricData } from './putDecoder.js';

const model = loadModel(cloudwatchModelId);
const op = model.operation('PutMetricData')!;

export function preparePutMetricData(task: { body: Uint8Array; now: number }): PreparedPut {
  return decodePutMetricData(task.body, task.now) ?? prepareGeneric(task);
}

export function prepareGeneric(task: { body: Uint8Array; now: number }): PreparedPut {
  const body = Buffer.from(task.body.buffer, task.body.byteOffset, task.body.byteLength);
  const input = fromJson(model, op.input!, parseJsonBody(body), '') as unknown as PutMetricDataInput;
  validateInput(model, 'PutMetricData', op.input, input as unknown as Record<string, unknown>, cloudwatchPatch, 'ValidationException');
  checkPut(input, task.now);
  const metrics: PreparedPut['metrics'] = [];
  const index = new Map<string, number>();
  const groupOf = (d: Datum) => {
    const key = d.Dimensions?.length
      ? `${d.MetricName}\u0000${d.Dimensions.map((x) => `${x.Name}\u0000${x.Value}`).join('\u0000')}`
      : d.MetricName;
    let i = index.get(key);
    if (i === undefined) {
      index.set(key, (i = metrics.length));
      metrics.push({ MetricName: d.MetricName, Dimensions: d.Dimensions });
    }
    return i;
  };
  return { prepared: true, Namespace: input.Namespace, metrics, buckets: foldBuckets(input.MetricData, task.now, groupOf) };
}
