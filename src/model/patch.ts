/**
 * What the min models leave out and AWS documents: value constraints (length, range, pattern, enum),
 * the error code a service uses for validation failures, and rest-xml root element names.
 * Each service keeps its patch beside its handlers; the gateway's validator reads it.
 */
export interface Constraint {
  min?: number;
  max?: number;
  pattern?: string;
  enum?: string[];
}

export interface ModelPatch {
  /** Error code for failed constraints: "ValidationError" (query services), "ValidationException", "InvalidParameterException" … */
  validationErrorCode?: string;
  /** One fixed message for every validation failure, where AWS answers so (S3's MalformedXML schema message). */
  validationMessage?: string;
  /** Keyed "Operation.member" (one operation) or "member" (every top-level input member of that name). */
  constraints?: Record<string, Constraint>;
  /** rest-xml: the root element of an operation's output body (S3's ListBucketResult …). */
  xmlRootNames?: Record<string, string>;
}
