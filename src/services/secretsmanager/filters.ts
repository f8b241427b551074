/**
 * ListSecrets / BatchGetSecretValue filters, as AWS documents them: `name`, `tag-key`,
 * `tag-value`, `primary-region` and `owning-service` match a prefix, case-sensitive;
 * `description` a prefix, not case-sensitive; `all` breaks the value into words and looks for each
 * word at the start of a word of any attribute (name, description, tag keys and values), not
 * case-sensitive. A value starting with "!" negates: the secret matches when no attribute matches.
 * The values of one filter are alternatives (any positive one, and every negated one); filters
 * combine with AND. No store, no context: unit-tested alone.
 */

export interface Filterable {
  name: string;
  description?: string | null;
  tags: Record<string, string>;
  region: string;
  owningService?: string;
}

export interface SecretFilter {
  Key?: string;
  Values?: string[];
}

export const FILTER_KEYS = ['description', 'name', 'tag-key', 'tag-value', 'primary-region', 'owning-service', 'all'];

/**
 * Words as the `all` filter sees them: split at anything but letters and digits, and at a
 * lowercase-to-uppercase step ("MyDatabase" → "My", "Database"), so "data" finds "prod/MyDatabase".
 */
export function words(text: string): string[] {
  return text
    .split(/[^\p{L}\p{N}]+/u)
    .flatMap((w) => w.split(/(?<=\p{Ll})(?=\p{Lu})/u))
    .filter((w) => w.length > 0);
}

const prefixOf = (value: string, attr: string, caseSensitive: boolean) =>
  caseSensitive ? attr.startsWith(value) : attr.toLowerCase().startsWith(value.toLowerCase());

/** Whether one (non-negated) filter value matches one attribute value. */
function valueMatches(key: string, value: string, attr: string): boolean {
  if (key === 'all') {
    const wanted = words(value);
    if (wanted.length === 0) return false;
    const have = words(attr).map((w) => w.toLowerCase());
    return wanted.every((w) => have.some((h) => h.startsWith(w.toLowerCase())));
  }
  return prefixOf(value, attr, key !== 'description');
}

function attributes(key: string, s: Filterable): string[] {
  switch (key) {
    case 'name':
      return [s.name];
    case 'description':
      return s.description ? [s.description] : [];
    case 'tag-key':
      return Object.keys(s.tags);
    case 'tag-value':
      return Object.values(s.tags);
    case 'primary-region':
      return [s.region];
    case 'owning-service':
      return s.owningService ? [s.owningService] : [];
    case 'all':
      // one string, so that a filter of several words can match across attributes
      return [[s.name, s.description ?? '', ...Object.keys(s.tags), ...Object.values(s.tags)].join(' ')];
    default:
      return [];
  }
}

function filterMatches(f: SecretFilter, s: Filterable): boolean {
  const key = f.Key!;
  const attrs = attributes(key, s);
  const values = f.Values ?? [];
  const positive = values.filter((v) => !v.startsWith('!'));
  const negative = values.filter((v) => v.startsWith('!')).map((v) => v.slice(1));
  if (positive.length && !positive.some((v) => attrs.some((a) => valueMatches(key, v, a)))) return false;
  return negative.every((v) => !attrs.some((a) => valueMatches(key, v, a)));
}

export function matchesFilters(filters: readonly SecretFilter[], s: Filterable): boolean {
  return filters.every((f) => filterMatches(f, s));
}
