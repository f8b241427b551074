/** The BatchGet* shape: what each key finds, in order, and the keys that found nothing, as given. */
export function batchGet<T>(keys: Iterable<string>, find: (key: string) => T | undefined | null): { found: T[]; notFound: string[] } {
  const found: T[] = [];
  const notFound: string[] = [];
  for (const key of keys) {
    const item = find(key);
    if (item !== undefined && item !== null) found.push(item);
    else notFound.push(key);
  }
  return { found, notFound };
}
