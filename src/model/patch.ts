/**
 * Where a service departs from what its model says: the error code it uses for validation failures,
 * constraints AWS enforces beyond (or instead of) the model's, and rest-xml root element names.
 * The model's own constraints (models/<id>.json) are checked everywhere in the input without a patch.
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
  /**
   * false where the service does not answer the model's constraints with Coral's "failed to satisfy
   * constraint" errors (S3's own error codes, SNS's InvalidParameter): only the patch's are checked.
   */
  modelConstraints?: boolean;
  /** Keyed "Operation.member" (one operation) or "member" (every top-level input member of that name). */
  constraints?: Record<string, Constraint>;
  /** rest-xml: the root element of an operation's output body (S3's ListBucketResult …). */
  xmlRootNames?: Record<string, string>;
}
